import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { EngramStreamStatus } from '../../api/v1alpha1/types.js';
import { StreamMetrics } from './stream-metrics.js';

const condition = (type: string, status: 'True' | 'False') => ({ type, status, reason: 'R', message: '', lastTransitionTime: new Date(0) });

async function series(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((line) => line.startsWith('engram_operator_'));
}

describe('StreamMetrics', () => {
  const status = (hash: string, podHashes: Array<[boolean, string]>): EngramStreamStatus => ({
    replicas: podHashes.length, readyReplicas: podHashes.filter(([ready]) => ready).length, desiredConfigHash: hash,
    pods: podHashes.map(([ready, configHash], i) => ({ name: `s-${i}`, uid: `u${i}`, ready, configHash, configGeneration: 1 })),
    conditions: [condition('Ready', 'True'), condition('ConfigApplied', 'False')],
  });

  it('exports conditions as 1/0, the desired hash, and counts only ready pods on that hash as applied', async () => {
    const registry = new Registry();
    const metrics = new StreamMetrics(registry);
    metrics.record('ns', 's', status('abc', [[true, 'abc'], [false, 'abc'], [true, 'old']]));
    const lines = await series(registry);
    expect(lines).toContain('engram_operator_stream_condition{namespace="ns",engramstream="s",type="Ready"} 1');
    expect(lines).toContain('engram_operator_stream_condition{namespace="ns",engramstream="s",type="ConfigApplied"} 0');
    expect(lines).toContain('engram_operator_stream_condition{namespace="ns",engramstream="s",type="Degraded"} 0');
    expect(lines).toContain('engram_operator_stream_desired_config_info{namespace="ns",engramstream="s",config_hash="abc"} 1');
    expect(lines).toContain('engram_operator_stream_pods{namespace="ns",engramstream="s",state="config_applied"} 1');
    expect(lines).toContain('engram_operator_stream_pods{namespace="ns",engramstream="s",state="ready"} 2');
  });

  it('keeps one desired-hash series per stream and drops every series of a deleted stream', async () => {
    const registry = new Registry();
    const metrics = new StreamMetrics(registry);
    metrics.record('ns', 's', status('abc', [[true, 'abc']]));
    metrics.record('ns', 's', status('def', [[true, 'abc']]));
    let lines = await series(registry);
    expect(lines.filter((l) => l.startsWith('engram_operator_stream_desired_config_info{'))).toEqual([
      'engram_operator_stream_desired_config_info{namespace="ns",engramstream="s",config_hash="def"} 1',
    ]);
    metrics.record('ns', 'other', status('x', []));
    metrics.forget('ns', 's');
    lines = await series(registry);
    expect(lines.filter((l) => l.includes('engramstream="s"'))).toEqual([]);
    expect(lines.some((l) => l.includes('engramstream="other"'))).toBe(true);
  });
});
