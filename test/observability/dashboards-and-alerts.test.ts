// Dashboards and alert rules name only metrics the code exports; the dashboard JSON is what its
// generator writes; the alert set is the guide's plus the operator's, each with a runbook.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../operator/operator-harness.js';
import { alertRules, dashboards, exportedNames, metricNames, panelQueries, unexported } from './metric-names.js';

const run = promisify(execFile);

describe('dashboards and alert rules', () => {
  it('name only metrics the engine and the operator export', async () => {
    const exported = await exportedNames();
    const exprs = [
      ...Object.entries(dashboards()).flatMap(([file, board]) => panelQueries(board).map((q) => ({ where: `${file} "${q.panel}"`, expr: q.expr }))),
      ...Object.entries(dashboards()).flatMap(([file, board]) => board.templating.list.filter((v) => v.definition).map((v) => ({ where: `${file} variable ${v.name}`, expr: v.definition! }))),
      ...alertRules().map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })),
    ];
    expect(exprs.length).toBeGreaterThan(50);
    expect(unexported(exprs, exported)).toEqual([]);
  });

  it('would catch a misspelt or removed metric (the check itself can fail)', async () => {
    const exported = await exportedNames();
    expect(metricNames('sum by (memory_space) (rate(engram_streaming_observations_total{reason="engram_x"}[5m]))')).toEqual(['engram_streaming_observations_total']);
    expect(unexported([{ where: 'w', expr: 'rate(engram_streaming_observation_total[5m])' }], exported)).toEqual(['w: engram_streaming_observation_total']);
    expect(unexported([{ where: 'w', expr: 'histogram_quantile(0.9, rate(engram_streaming_batch_size_bucket[1m]))' }], exported)).toEqual([]);
  });

  it('are the JSON files the generator writes (npm run generate:dashboards)', async () => {
    await expect(run(process.execPath, [join(REPO_ROOT, 'scripts', 'generate-dashboards.mjs'), '--check'])).resolves.toBeDefined();
  });

  it('give every dashboard the datasource, namespace, EngramStream and pod variables', () => {
    const boards = dashboards();
    expect(Object.keys(boards).sort()).toEqual(['engram-operator.json', 'engram-streaming.json', 'engram-tenants.json']);
    for (const board of Object.values(boards)) {
      expect(board.templating.list.map((v) => v.name)).toEqual(['datasource', 'namespace', 'engramstream', 'pod']);
    }
  });

  it('cover the guide\'s alerts and the operator\'s, each with a severity and a runbook page', () => {
    const rules = alertRules();
    const guide = ['HighQueueDepth', 'CriticalQueueDepth', 'WorkerDown', 'WorkerUtilizationImbalance', 'HighObservationLatency', 'HighRecallLatency',
      'FrequentBackpressure', 'PersistentBackpressure', 'HighRejectionRate', 'BatchInsertionFailures', 'LowThroughput', 'ExcessiveWorkStealing'];
    expect(rules.map((r) => r.alert).sort()).toEqual([...guide.map((a) => `Engram${a}`), 'EngramOperatorReconcileErrors', 'EngramStreamConfigNotConverged', 'EngramHandoffStuck'].sort());
    for (const rule of rules) {
      expect(['info', 'warning', 'critical'], rule.alert).toContain(rule.labels.severity);
      expect(rule.annotations.runbook, rule.alert).toBe(`docs/runbooks/${rule.alert}.md`);
      expect(existsSync(join(REPO_ROOT, rule.annotations.runbook!)), rule.annotations.runbook).toBe(true);
    }
  });
});
