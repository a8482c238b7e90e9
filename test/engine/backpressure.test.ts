// A burst far above what the engine indexes: pressure is signalled before anything is turned away,
// a full queue refuses with retry-after without consuming sequence numbers, resent observations are
// accepted, the queue never grows past its capacity, and pressure releases when the burst ends.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamStatus__Output } from '../../engine/dist/generated/engram/v1/StreamStatus.js';
import { startEngine, type EngineProcess } from '../helpers/engine-process.js';
import { clusteredObservations, metricValue } from '../helpers/vectors.js';

const CAPACITY = 500; // 450 for observations, 50 for recalls
const BURST = 3000;

describe('backpressure under a burst', () => {
  let engine: EngineProcess;
  beforeAll(async () => {
    engine = await startEngine({ 'queue.capacity': CAPACITY, workers: 2, 'batch.max': 50 });
  });
  afterAll(async () => {
    await engine.stop();
  });

  it('refuses what does not fit with retry-after, and every resent observation is accepted', async () => {
    const client = engine.client();
    const stream = await client.openStream({ memorySpace: 'burst', honoursBackpressure: false, maxBatch: 100, maxInFlight: 2000 });
    const statuses: Array<{ state: StreamStatus__Output['state']; refusedBefore: number }> = [];
    const refused = (): number => Object.values(stream.counts.refusals).reduce((a, b) => a + b, 0);
    stream.on('status', (s) => statuses.push({ state: s.state, refusedBefore: refused() }));
    const refusals: Array<{ reason: string; retryAfterMs: number }> = [];
    stream.on('refused', (ack) => {
      if (ack.code === 'REJECT_BACKPRESSURE') refusals.push({ reason: ack.reason, retryAfterMs: ack.retryAfterMs });
    });
    let maxDepth = 0;
    const sampler = setInterval(() => {
      client.stats().then((s) => { maxDepth = Math.max(maxDepth, s.queueDepth); }, () => {});
    }, 20);
    for (const o of clusteredObservations('burst', BURST, 768)) await stream.send(o);
    const counts = await stream.close({ drain: true });
    clearInterval(sampler);

    expect(counts.refusals.REJECT_BACKPRESSURE).toBeGreaterThan(0);
    expect(counts.resent).toBeGreaterThan(0);
    const full = refusals.find((r) => r.reason.startsWith('the queue has room for'));
    expect(full?.reason).toMatch(/^the queue has room for \d+ of this batch's \d+ observations \(\d+ queued and \d+ being logged, of 450\)/);
    // hints come from the measured drain rate, bounded: a cold engine never says 300 s
    expect(Math.min(...refusals.map((r) => r.retryAfterMs))).toBeGreaterThanOrEqual(20);
    expect(Math.max(...refusals.map((r) => r.retryAfterMs))).toBeLessThanOrEqual(10_000);
    expect(counts).toMatchObject({ accepted: BURST, indexed: BURST, rejected: 0 });
    expect(maxDepth).toBeLessThanOrEqual(CAPACITY * 0.9);

    const firstPressure = statuses.find((s) => s.state === 'BACKPRESSURE');
    expect(firstPressure?.refusedBefore).toBe(0);
    expect(statuses.some((s) => s.state === 'OVERLOADED')).toBe(true);
    expect(statuses.at(-1)?.state).toBe('CLOSED');
    expect(statuses.slice(0, -1).at(-1)?.state).toBe('ACTIVE');

    const metrics = await engine.metrics();
    expect(metricValue(metrics, 'engram_streaming_observations_rejected_total', { memory_space: 'burst', reason: 'backpressure' })).toBeGreaterThan(0);
    expect(metricValue(metrics, 'engram_streaming_backpressure_activations_total', { memory_space: 'burst', level: 'overloaded' })).toBeGreaterThan(0);
    const recall = await client.recall({ memorySpace: 'burst', vector: clusteredObservations('burst', 1, 768)[0]!.embedding, k: 1 });
    expect(recall.hits[0]?.id).toBe('burst-0');
  });

  it('tells a client that honours backpressure to pause and to resume', async () => {
    const client = engine.client();
    const stream = await client.openStream({ memorySpace: 'polite', honoursBackpressure: true, maxBatch: 100, maxInFlight: 2000 });
    const actions: string[] = [];
    stream.on('flow', (f) => actions.push(String(f.action)));
    for (const o of clusteredObservations('polite', BURST, 768)) await stream.send(o);
    const counts = await stream.close({ drain: true });
    expect(actions).toContain('SLOW_DOWN');
    expect(actions).toContain('PAUSE');
    expect(actions.lastIndexOf('RESUME')).toBeGreaterThan(actions.indexOf('PAUSE'));
    expect(counts).toMatchObject({ accepted: BURST, indexed: BURST, rejected: 0 });
  });
});
