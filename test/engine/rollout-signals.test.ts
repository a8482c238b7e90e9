// What a canary analysis reads from an engine: recall@k of sampled shadow recalls (each checked
// against an exact search of the same space) that falls when efSearch is too low, and a track
// label on every series that follows the placement the operator pushes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine, type EngineProcess } from '../helpers/engine-process.js';
import { clusteredObservations, metricValue } from '../helpers/vectors.js';

const DIM = 64;

describe('rollout signals of an engine', () => {
  let engine: EngineProcess;
  const data = clusteredObservations('quality', 1500, DIM, 3);
  const queries = clusteredObservations('query', 100, DIM, 99);

  beforeAll(async () => {
    engine = await startEngine({ 'hnsw.dimension': DIM, workers: 1, 'quality.sampleRate': 1 }, ['--member-name', 'engine-1']);
    // A member of a one-pod placement (as the operator would push it), so a later one can name it canary.
    await engine.client().applyPlacement({ generation: 1, members: [{ ordinal: 1, name: 'engine-1', address: engine.address }], assignments: {} });
    const stream = await engine.client().openStream({ memorySpace: 'quality' });
    for (const o of data) await stream.send(o);
    await stream.close({ drain: true });
  });
  afterAll(async () => {
    if (engine.process.exitCode === null) await engine.stop();
  });

  /** recall@10 of `queries` recalls with this efSearch, from the engine's own counters. */
  async function measuredRecall(ef: number): Promise<{ recall: number; expected: number }> {
    const before = await engine.metrics();
    for (const q of queries) await engine.client().recall({ memorySpace: 'quality', vector: q.embedding, k: 10, ef });
    // the exact search runs after each answer: wait until the last is counted
    let after = await engine.metrics();
    const counted = (text: string) => metricValue(text, 'engram_recall_quality_expected_total') ?? 0;
    for (let i = 0; i < 50 && counted(after) - counted(before) < queries.length * 10; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = await engine.metrics();
    }
    const hits = (metricValue(after, 'engram_recall_quality_hits_total') ?? 0) - (metricValue(before, 'engram_recall_quality_hits_total') ?? 0);
    const expected = counted(after) - counted(before);
    return { recall: hits / expected, expected };
  }

  it('measures recall@k against an exact search, and a low efSearch shows in it', async () => {
    const good = await measuredRecall(64);
    const poor = await measuredRecall(1);
    console.log(`recall@10 measured by shadow exact searches: ef 64 ${good.recall.toFixed(3)}, ef 1 (hnswlib uses max(ef, k)) ${poor.recall.toFixed(3)}`);
    expect(good.expected).toBe(queries.length * 10);
    expect(good.recall).toBeGreaterThan(0.95);
    expect(poor.recall).toBeLessThan(good.recall - 0.05);
  });

  it('samples the share of recalls quality.sampleRate asks for', async () => {
    await engine.client().applyConfig({ quality: { sampleRate: 0.25 } });
    const { expected } = await measuredRecall(64);
    expect(expected).toBe(queries.length * 10 * 0.25);
  });

  it('labels every series with the track the placement gives it', async () => {
    const before = await engine.metrics();
    expect(metricValue(before, 'engram_streaming_workers', { track: 'stable' })).toBe(1);
    const address = engine.address;
    await engine.client().applyPlacement({ generation: 2, members: [{ ordinal: 0, name: 'engine-0', address: '127.0.0.1:1' }, { ordinal: 1, name: 'engine-1', address }], ring: [0], assignments: { quality: 1 }, canary: [1] });
    const canary = await engine.metrics();
    expect(metricValue(canary, 'engram_streaming_workers', { track: 'canary' })).toBe(1);
    expect(canary).not.toContain('track="stable"');
    await engine.client().applyPlacement({ generation: 3, members: [{ ordinal: 0, name: 'engine-0', address: '127.0.0.1:1' }, { ordinal: 1, name: 'engine-1', address }], ring: [0], assignments: { quality: 1 } });
    expect(metricValue(await engine.metrics(), 'engram_streaming_workers', { track: 'stable' })).toBe(1);
  });
});
