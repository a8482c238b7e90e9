// A burst far above what the engine indexes: pressure is signalled before anything is turned away,
// a full queue refuses with retry-after without consuming sequence numbers, resent observations are
// accepted, the queue never grows past its capacity, and pressure releases when the burst ends.
// Clients that honour backpressure get a window (their share of half the queue) and keep to it.
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

  it('gives a client that honours backpressure a window it keeps to, and never refuses it', async () => {
    const client = engine.client();
    const stream = await client.openStream({ memorySpace: 'polite', honoursBackpressure: true, maxBatch: 100, maxInFlight: 2000 });
    const windows = [stream.init.capabilities!.streamWindow];
    stream.on('flow', (f) => { if (f.action === 'SET_WINDOW') windows.push(f.window); });
    let maxDepth = 0;
    const waitedFor = new Set<string>();
    const sampler = setInterval(() => {
      client.stats().then((s) => { maxDepth = Math.max(maxDepth, s.queueDepth); }, () => {});
      waitedFor.add(stream.state().waitingFor);
    }, 20);
    for (const o of clusteredObservations('polite', BURST, 768)) await stream.send(o);
    const counts = await stream.close({ drain: true });
    clearInterval(sampler);
    // a burst far larger than its window waits on it, and says so; at the end it holds nothing
    expect(waitedFor).toContain('engine window');
    expect(stream.state()).toMatchObject({ unaccepted: 0, onTheWire: 0, unindexed: 0, engineWindow: windows.at(-1), waitingFor: 'nothing', unansweredBatches: 0 });
    // the drain's last INDEXED ack covers the last observation
    expect(stream.state().lastAck).toMatchObject({ status: 'INDEXED', lastSequence: BURST, stale: false });
    // alone on the engine: half the 450 observation slots
    expect(windows[0]).toBe(225);
    expect(counts.refusals).toEqual({});
    expect(counts).toMatchObject({ accepted: BURST, indexed: BURST, rejected: 0, resent: 0 });
    expect(maxDepth).toBeGreaterThan(0);
    expect(maxDepth).toBeLessThanOrEqual(225);
  });

  it('shares the queue among streams: a stream that joins shrinks every window, and none is refused', async () => {
    const client = engine.client();
    const streams = await Promise.all(['share-a', 'share-b', 'share-c'].map((space) => client.openStream({ memorySpace: space, honoursBackpressure: true, maxBatch: 100, maxInFlight: 2000 })));
    // the init ack brings the first window, SET_WINDOW the later ones
    const windows = streams.map((stream) => [stream.init.capabilities!.streamWindow]);
    streams.forEach((stream, i) => stream.on('flow', (f) => { if (f.action === 'SET_WINDOW') windows[i]!.push(f.window); }));
    const perStream = BURST / 3;
    const all = await Promise.all(streams.map(async (stream, i) => {
      for (const o of clusteredObservations(`share-${'abc'[i]}`, perStream, 768)) await stream.send(o);
      return stream.close({ drain: true });
    }));
    // each was told its share as it joined (225 alone, 112 with another), then 75 once all three were open
    expect(windows.map((w) => w[0])).toEqual([225, 112, 75]);
    for (const w of windows) expect(w).toContain(75);
    for (const counts of all) {
      expect(counts.refusals).toEqual({});
      expect(counts).toMatchObject({ accepted: perStream, indexed: perStream, rejected: 0 });
    }
  });

  it('tells a client that honours backpressure to pause and to resume while another client fills the queue', async () => {
    const client = engine.client();
    const flooding = await client.openStream({ memorySpace: 'flood', honoursBackpressure: false, maxBatch: 100, maxInFlight: 2000 });
    const polite = await client.openStream({ memorySpace: 'patient', honoursBackpressure: true, maxBatch: 50, maxInFlight: 2000 });
    const actions: string[] = [];
    polite.on('flow', (f) => actions.push(String(f.action)));
    const send = async (stream: typeof polite, space: string, n: number) => {
      for (const o of clusteredObservations(space, n, 768)) await stream.send(o);
      return stream.close({ drain: true });
    };
    const [, counts] = await Promise.all([send(flooding, 'flood', BURST), send(polite, 'patient', 500)]);
    expect(actions).toContain('PAUSE');
    expect(actions.lastIndexOf('RESUME')).toBeGreaterThan(actions.indexOf('PAUSE'));
    expect(counts).toMatchObject({ accepted: 500, indexed: 500, rejected: 0 });
  });
});
