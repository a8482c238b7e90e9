// A new M / ef_construction, or another index backend, on a live engine: every space's index is
// rebuilt in the background while clients stream and recall; nothing is refused, no recall fails,
// nothing is lost, and the progress metric reaches 1 for every space.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine, type EngineProcess } from '../helpers/engine-process.js';
import { expectStored, waitFor } from '../helpers/durability.js';
import { clusteredObservations, metricValue } from '../helpers/vectors.js';

const DIM = 64;
const SPACES = ['rb-a', 'rb-b', 'rb-c'];
const BEFORE = 3000;
const DURING = 1500;

/** The engines start on hnswlib (or on usearch f16 under ENGRAM_TEST_BACKEND=usearch): the backend change goes to the other. */
const onUsearch = process.env.ENGRAM_TEST_BACKEND === 'usearch';
const CHANGES: Array<[string, Record<string, unknown>]> = [
  ['a new M / ef_construction', { m: 24, efConstruction: 128 }],
  [onUsearch ? 'usearch f16 -> hnswlib' : 'hnswlib -> usearch f16', onUsearch ? { backend: 'hnswlib', quantization: 'f32' } : { backend: 'usearch', quantization: 'f16' }],
];

describe.each(CHANGES)('%s on a live engine', (_name, change) => {
  let engine: EngineProcess;
  beforeAll(async () => {
    engine = await startEngine({ workers: 2, 'hnsw.dimension': DIM, 'hnsw.m': 8, 'hnsw.efConstruction': 64 });
  });
  afterAll(async () => {
    await engine.stop();
  });

  it('rebuilds every space while streaming and recalling, with zero errors and zero lost', async () => {
    const client = engine.client();
    const data = new Map(SPACES.map((s, i) => [s, clusteredObservations(s, BEFORE + DURING, DIM, 7 + i)]));
    const stream = (space: string, from: number, to: number) => (async () => {
      const s = await client.openStream({ memorySpace: space, maxBatch: 100 });
      for (const o of data.get(space)!.slice(from, to)) await s.send(o);
      return s.close({ drain: true });
    })();
    await Promise.all(SPACES.map((s) => stream(s, 0, BEFORE)));

    let recalls = 0;
    let recallErrors = 0;
    let recalling = true;
    const recaller = (async () => {
      while (recalling) {
        const space = SPACES[recalls % SPACES.length]!;
        try {
          const res = await client.recall({ memorySpace: space, vector: data.get(space)![recalls % BEFORE]!.embedding, k: 5 });
          if (res.hits.length !== 5) recallErrors++;
        } catch {
          recallErrors++;
        }
        recalls++;
      }
    })();
    const during = Promise.all(SPACES.map((s) => stream(s, BEFORE, BEFORE + DURING)));
    const applied = await client.applyConfig({ hnsw: change });
    expect(applied.config.hnsw).toMatchObject(change);
    for (const counts of await during) expect(counts).toMatchObject({ accepted: DURING, indexed: DURING, rejected: 0, resent: 0 });
    await waitFor(async () => {
      const m = await engine.metrics();
      return metricValue(m, 'engram_index_rebuilds_pending') === 0 && (metricValue(m, 'engram_index_rebuilds_total', { result: 'done' }) ?? 0) >= SPACES.length;
    }, 90_000, 'every space rebuilt');
    recalling = false;
    await recaller;

    expect(recalls).toBeGreaterThan(100);
    expect(recallErrors).toBe(0);
    const metrics = await engine.metrics();
    for (const space of SPACES) expect(metricValue(metrics, 'engram_index_rebuild_progress_ratio', { memory_space: space })).toBe(1);
    expect(metricValue(metrics, 'engram_index_rebuilds_total', { result: 'failed' }) ?? 0).toBe(0);
    // each index was rebuilt into what the config asks for
    const rebuilt = engine.logEntries().filter((e) => e.message === 'memory space index rebuilt');
    for (const space of SPACES) expect(rebuilt.find((e) => e.space === space)).toMatchObject(change);
    const stats = await client.stats();
    for (const space of SPACES) {
      expect(stats.spaces.find((s) => s.memorySpace === space)?.vectors).toBe(BEFORE + DURING);
      await expectStored(client, space, data.get(space)!);
    }
  }, 180_000);
});
