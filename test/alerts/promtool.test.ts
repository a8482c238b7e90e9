// The alert rules through Prometheus' own tool: `promtool check rules` (syntax, templates) and
// `promtool test rules` (engram-stream.rules.test.yaml: each alert fires on the series that should
// trigger it, after its `for`, with the labels and annotations routing and runbooks rely on).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CHART_FILES } from '../observability/metric-names.js';
import { REPO_ROOT } from '../operator/operator-harness.js';

const run = promisify(execFile);

describe('alert rules under promtool', () => {
  it('pass promtool check rules', async () => {
    const { stdout } = await run('promtool', ['check', 'rules', join(CHART_FILES, 'alerts', 'engram-stream.rules.yaml')]);
    expect(stdout).toContain('SUCCESS: 15 rules found');
  });

  it('pass their promtool unit tests', async () => {
    const { stdout } = await run('promtool', ['test', 'rules', join(REPO_ROOT, 'test', 'alerts', 'engram-stream.rules.test.yaml')]);
    expect(stdout).toContain('SUCCESS');
  });
});
