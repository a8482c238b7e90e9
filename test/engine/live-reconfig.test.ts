// Live reconfiguration while six streams run: workers 4 -> 1 -> 3, batch sizes, queue capacity
// and efSearch change on the running engine. Nothing is lost or duplicated, each change reports a
// new config hash and generation, and a worker-count change puts each space where the ring says.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashRing } from '../../engine/dist/pool/hash-ring.js';
import { startEngine, type EngineProcess } from '../helpers/engine-process.js';
import { clusteredObservations, metricValue } from '../helpers/vectors.js';

const SPACES = ['live-a', 'live-b', 'live-c', 'live-d', 'live-e', 'live-f'];
const PER_SPACE = 700;
const DIMENSION = 256;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('live reconfiguration under a continuous stream', () => {
  let engine: EngineProcess;
  const data = new Map(SPACES.map((s, i) => [s, clusteredObservations(s, PER_SPACE, DIMENSION, 10 + i)]));
  const applied: Array<{ hash: string; generation: number; workers: number }> = [];
  const owners: Array<Map<string, number>> = [];
  let results: Array<{ accepted: number; indexed: number; rejected: number }> = [];
  /** Indexed count seen right after each change: the stream must still be flowing. */
  const indexedAtChange: number[] = [];
  let streamsDoneBeforeLastChange = true;

  beforeAll(async () => {
    engine = await startEngine({ 'hnsw.dimension': DIMENSION, stealThreshold: 0 });
    const client = engine.client();
    const initial = await client.getConfig();
    applied.push({ hash: initial.hash, generation: initial.generation, workers: initial.config.workers as number });

    const streaming = Promise.all(SPACES.map(async (space) => {
      const stream = await client.openStream({ memorySpace: space, maxBatch: 20 });
      for (const [i, o] of data.get(space)!.entries()) {
        await stream.send(o);
        if (i % 20 === 19) await sleep(25); // paced: the stream outlives every reconfiguration
      }
      return stream.close({ drain: true });
    }));
    let streamsDone = false;
    void streaming.then(() => { streamsDone = true; });

    const patches = [
      { workers: 1 },
      { workers: 3, batch: { min: 5, max: 40 } },
      { queue: { capacity: 2000 }, hnsw: { efSearch: 128 }, idleSleepMs: 0 },
      { batch: { min: 20, max: 200 }, queue: { capacity: 20_000, highPriorityRatio: 0.2 } },
    ];
    for (const patch of patches) {
      await sleep(150);
      const view = await client.applyConfig(patch);
      applied.push({ hash: view.hash, generation: view.generation, workers: view.config.workers as number });
      const stats = await client.stats();
      owners.push(new Map(stats.spaces.map((s) => [s.memorySpace, s.worker])));
      indexedAtChange.push(Number(stats.observationsIndexed));
    }
    streamsDoneBeforeLastChange = streamsDone;
    results = await streaming;
  });

  afterAll(async () => {
    await engine.stop();
  });

  it('changed the config while observations were flowing', () => {
    expect(streamsDoneBeforeLastChange).toBe(false);
    expect(indexedAtChange.at(-1)).toBeLessThan(SPACES.length * PER_SPACE);
    expect(indexedAtChange[0]).toBeGreaterThan(0);
  });

  it('loses nothing and duplicates nothing', async () => {
    for (const r of results) expect(r).toMatchObject({ accepted: PER_SPACE, indexed: PER_SPACE, rejected: 0 });
    const stats = await engine.client().stats();
    for (const space of SPACES) expect(stats.spaces.find((s) => s.memorySpace === space)?.vectors).toBe(PER_SPACE);
    expect(Number(stats.observationsIndexed)).toBe(SPACES.length * PER_SPACE);
  });

  it('recalls every observation as its own nearest neighbour after its space moved between workers', async () => {
    const client = engine.client();
    let misses = 0;
    for (const space of SPACES) {
      for (const o of data.get(space)!.filter((_, i) => i % 7 === 0)) {
        if ((await client.recall({ memorySpace: space, vector: o.embedding, k: 1 })).hits[0]?.id !== o.id) misses++;
      }
    }
    expect(misses).toBe(0);
  });

  it('reports a new hash and a higher generation for every change', () => {
    expect(new Set(applied.map((a) => a.hash)).size).toBe(applied.length);
    expect(applied.map((a) => a.generation)).toEqual([1, 2, 3, 4, 5]);
    expect(applied.map((a) => a.workers)).toEqual([4, 1, 3, 3, 3]);
  });

  it('places every space on the worker the ring gives it after each worker-count change', () => {
    expect([...owners[0]!.values()].every((w) => w === 0)).toBe(true);
    const ring = new HashRing([0, 1, 2]);
    for (const [space, worker] of owners[1]!) expect(worker).toBe(ring.lookup(space));
  });

  it('runs with the applied efSearch and batch knobs', async () => {
    const { config } = await engine.client().getConfig();
    expect(config).toMatchObject({ workers: 3, batch: { min: 20, max: 200 }, queue: { capacity: 20_000, highPriorityRatio: 0.2 }, idleSleepMs: 0 });
    expect((config.hnsw as { efSearch: number }).efSearch).toBe(128);
    const metrics = await engine.metrics();
    expect(metricValue(metrics, 'engram_streaming_workers')).toBe(3);
    expect(metricValue(metrics, 'engram_config_generation')).toBe(5);
  });
});
