import { describe, expect, it } from 'vitest';
import type { AnalysisTemplate } from '../../../api/v1alpha1/types.js';
import { judge, parseDuration, record, startRun } from './analysis.js';
import { histogramQuantile, parsePodTotals, trackIncrease, valueOf, type Scrape } from './metric-source.js';

const NOW = new Date('2026-12-02T10:00:00Z');
const recall: AnalysisTemplate = { name: 'quality', metric: 'recallAtK', minDifference: -0.02, minSamples: 50, count: 2 };
const latency: AnalysisTemplate = { name: 'latency', metric: 'observationLatencyP99', maxRatio: 1.5, max: 0.5 };

describe('analysis', () => {
  it.each<[string, AnalysisTemplate, [number | null, number], [number | null, number], string, string?]>([
    ['recall within 2 points', recall, [0.975, 400], [0.99, 400], 'Successful'],
    ['recall down 9 points', recall, [0.9, 400], [0.99, 400], 'Failed', 'recallAtK: canary-stable -0.09 < -0.02'],
    ['too few canary samples', recall, [0.5, 10], [0.99, 400], 'Inconclusive', 'too few samples to judge (canary 10; at least 50 per track needed)'],
    ['no canary traffic at all', recall, [null, 0], [0.99, 400], 'Inconclusive'],
    ['too few stable samples when the comparison needs them', recall, [0.99, 400], [0.99, 3], 'Inconclusive', 'stable 3'],
    ['latency over the ratio', latency, [0.3, 100], [0.1, 100], 'Failed', 'canary/stable 3 > 1.5'],
    ['latency over the absolute bound', latency, [0.6, 100], [0.5, 100], 'Failed', 'canary 0.6 > 0.5'],
    ['latency within both', latency, [0.012, 100], [0.01, 100], 'Successful'],
  ])('judges %s', (_name, template, [cv, cn], [sv, sn], phase, message) => {
    const m = judge(template, { value: cv, samples: cn }, { value: sv, samples: sn }, NOW);
    expect(m.phase).toBe(phase);
    if (message) expect(m.message).toContain(message);
  });

  it('ends a run by its limits: count successes, any failure beyond failureLimit, inconclusives, consecutive errors', () => {
    const ok = judge(recall, { value: 0.99, samples: 100 }, { value: 0.99, samples: 100 }, NOW);
    const bad = judge(recall, { value: 0.8, samples: 100 }, { value: 0.99, samples: 100 }, NOW);
    let run = record(startRun(recall, NOW), recall, ok, NOW);
    expect(run.phase).toBe('Running');
    expect(record(run, recall, ok, NOW).phase).toBe('Successful');
    expect(record(run, recall, bad, NOW)).toMatchObject({ phase: 'Failed' });
    expect(record(run, { ...recall, failureLimit: 1 }, bad, NOW).phase).toBe('Successful'); // 2 measured, 1 failure tolerated
    const error = { at: NOW.toISOString(), phase: 'Error' as const, message: 'down' };
    run = startRun(recall, NOW);
    for (let i = 0; i < 4; i++) run = record(run, recall, error, NOW);
    expect(run.phase).toBe('Running');
    expect(record(run, recall, error, NOW)).toMatchObject({ phase: 'Error', message: '5 measurements in a row could not be taken: down' });
    expect(Date.parse(run.nextAt) - NOW.getTime()).toBe(10_000);
  });

  it('counts only what was measured since a run (re)started', () => {
    const bad = judge(recall, { value: 0.8, samples: 100 }, { value: 0.99, samples: 100 }, NOW);
    const ok = judge(recall, { value: 0.99, samples: 100 }, { value: 0.99, samples: 100 }, new Date(NOW.getTime() + 20_000));
    const restarted = { ...startRun(recall, new Date(NOW.getTime() + 10_000)), measurements: [bad] };
    expect(record(restarted, recall, ok, NOW).phase).toBe('Running'); // the old failure does not count
  });

  it('waits a template\'s initialDelay before the first window of a step, not when it measures again', () => {
    const delayed = { ...recall, interval: '5s', initialDelay: '4s' };
    expect(Date.parse(startRun(delayed, NOW).nextAt) - NOW.getTime()).toBe(9000);
    expect(Date.parse(startRun(delayed, NOW, false).nextAt) - NOW.getTime()).toBe(5000);
  });

  it('parses durations', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(() => parseDuration('soon')).toThrow(/not a duration/);
  });
});

describe('the engines\' own metrics', () => {
  const text = (obs: number, hits: number, slowBucket: number) => [
    '# HELP x', `engram_streaming_observations_total{memory_space="a",priority="normal",track="canary"} ${obs}`,
    'engram_streaming_observations_rejected_total{memory_space="a",reason="backpressure"} 5',
    `engram_recall_quality_hits_total ${hits}`, 'engram_recall_quality_expected_total 100',
    'engram_streaming_observation_latency_seconds_bucket{le="0.01",memory_space="a"} 90', `engram_streaming_observation_latency_seconds_bucket{le="0.1",memory_space="a"} ${90 + slowBucket}`,
    `engram_streaming_observation_latency_seconds_bucket{le="+Inf",memory_space="a"} ${90 + slowBucket}`,
    'grpc_server_handled_total{grpc_method="Recall",grpc_code="OK"} 98', 'grpc_server_handled_total{grpc_method="Recall",grpc_code="INTERNAL"} 2',
  ].join('\n');

  it('sums a pod\'s families over their labels', () => {
    const t = parsePodTotals(text(1000, 97, 10));
    expect(t).toMatchObject({ observations: 1000, rejected: 5, qualityHits: 97, qualityExpected: 100, rpcs: 100, rpcErrors: 2 });
    expect(valueOf('recallAtK', t)).toEqual({ value: 0.97, samples: 100 });
    expect(valueOf('errorRate', t).value).toBeCloseTo(0.02);
  });

  it('computes p99 as Prometheus\'s histogram_quantile does', () => {
    // 90 under 10 ms, 10 between 10 and 100 ms: rank 99 falls 9/10 into the second bucket
    expect(histogramQuantile(0.99, new Map([[0.01, 90], [0.1, 100], [Infinity, 100]]))).toBeCloseTo(0.091);
    expect(histogramQuantile(0.99, new Map([[Infinity, 0]]))).toBeNull();
  });

  it('differences scrapes per pod and track, and treats a lower counter as a restart', () => {
    const scrape = (at: number, pods: Array<[string, 'stable' | 'canary', string]>): Scrape =>
      ({ at, pods: pods.map(([uid, track, t]) => ({ pod: uid, uid, track, totals: parsePodTotals(t) })) });
    const before = scrape(0, [['p0', 'stable', text(1000, 90, 0)], ['p1', 'canary', text(500, 50, 0)]]);
    const after = scrape(10_000, [['p0', 'stable', text(1600, 90, 0)], ['p1', 'canary', text(100, 50, 0)], ['p2', 'canary', text(9999, 0, 0)]]);
    const d = trackIncrease(before, after);
    expect(d.stable.observations).toBe(600);
    expect(d.canary.observations).toBe(100); // p1 restarted (500 -> 100); p2 has no earlier scrape
  });
});
