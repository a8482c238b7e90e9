// A memory space split into shards: each shard is its own index on its own worker, an id always
// lands on the same shard, a recall asks every shard and merges, Fetch asks the id's shard; after
// a worker dies and after a SIGKILL, everything acknowledged is there, in the layout it had.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runKillDrill } from '../../engine/dist/testing/kill-drill.js';
import { recallTolerance } from '../../engine/dist/testing/stored-check.js';
import { expectStored } from '../helpers/durability.js';
import { eventually } from '../helpers/eventually.js';
import { startEngine, type EngineProcess } from '../helpers/engine-process.js';
import { clusteredObservations, metricValue } from '../helpers/vectors.js';

const DIM = 64;
const COUNT = 3000;

describe('a memory space split into shards', () => {
  let engine: EngineProcess;
  const data = clusteredObservations('split', COUNT, DIM, 7);
  beforeAll(async () => {
    engine = await startEngine({ workers: 2, 'hnsw.dimension': DIM, 'hnsw.shards': 2, stealThreshold: 0 }, ['--enable-fault-injection']);
    const stream = await engine.client().openStream({ memorySpace: 'split', maxBatch: 200 });
    for (const o of data) await stream.send(o);
    expect(await stream.close({ drain: true })).toMatchObject({ accepted: COUNT, indexed: COUNT, rejected: 0 });
  });
  afterAll(async () => {
    await engine.stop();
  });

  it('indexes each shard on its own worker, the shards together holding every observation once', async () => {
    const stats = await engine.client().stats();
    const space = stats.spaces.find((s) => s.memorySpace === 'split')!;
    expect(space.vectors).toBe(COUNT);
    expect(space.shards.map((s) => s.worker).sort()).toEqual([0, 1]);
    const sizes = space.shards.map((s) => Number(s.vectors));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(COUNT);
    // Ids are spread by a hash: neither shard holds less than 40% of them.
    for (const size of sizes) expect(size).toBeGreaterThan(COUNT * 0.4);
    // the per-space gauges are refreshed every second
    await eventually('the shard count gauge', async () => (metricValue(await engine.metrics(), 'engram_index_shards', { memory_space: 'split' }) === 2 ? true : undefined), 10_000);
    const metrics = await engine.metrics();
    expect([0, 1].map((i) => metricValue(metrics, 'engram_index_shard_vectors', { memory_space: 'split', shard: String(i) }))).toEqual(sizes);
    for (const w of ['0', '1']) expect(metricValue(metrics, 'engram_streaming_batches_processed_total', { worker_id: w })).toBeGreaterThan(0);
  });

  it('recalls each observation as its nearest neighbour and fetches every id from its shard', async () => {
    await expectStored(engine.client(), 'split', data);
  });

  it('merges the shards\' answers into the k nearest, closest first', async () => {
    const client = engine.client();
    const { hits } = await client.recall({ memorySpace: 'split', vector: data[5]!.embedding, k: 10 });
    expect(hits).toHaveLength(10);
    expect(hits[0]!.id).toBe(data[5]!.id);
    const distances = hits.map((h) => h.distance);
    expect([...distances].sort((a, b) => a - b)).toEqual(distances);
  });

  it('keeps an upserted id on its shard: the space does not grow and holds the new vector', async () => {
    const client = engine.client();
    const replaced = clusteredObservations('split', 200, DIM, 99).map((o, i) => ({ ...o, id: data[i]!.id }));
    const stream = await client.openStream({ memorySpace: 'split', maxBatch: 100 });
    for (const o of replaced) await stream.send(o);
    expect(await stream.close({ drain: true })).toMatchObject({ accepted: 200, indexed: 200 });
    const space = (await client.stats()).spaces.find((s) => s.memorySpace === 'split')!;
    expect(space.vectors).toBe(COUNT);
    await expectStored(client, 'split', [...replaced, ...data.slice(200)]);
  });

  it('recovers a shard whose worker died mid-stream, losing nothing acknowledged', async () => {
    const client = engine.client();
    const more = clusteredObservations('split-late', 2000, DIM, 11);
    const stream = await client.openStream({ memorySpace: 'split', maxBatch: 100 });
    for (const [i, o] of more.entries()) {
      await stream.send(o);
      if (i === 1000) expect(await client.killWorkers([1])).toEqual([1]);
    }
    expect(await stream.close({ drain: true })).toMatchObject({ accepted: 2000, indexed: 2000, rejected: 0 });
    await expectStored(client, 'split', more);
    expect(metricValue(await engine.metrics(), 'engram_streaming_worker_restarts_total', { worker_id: '1' })).toBe(1);
  });
});

describe('a split space across SIGKILLs', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'engram-shards-kill-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('loses no acknowledged observation and comes back split as it was', async () => {
    const report = await runKillDrill({ dataDir, trials: 4, seed: 20261203, spaces: 2, config: { workers: 2, 'hnsw.shards': 2 } });
    expect(report.lost).toEqual([]);
    expect(report.notRecalled.length).toBeLessThanOrEqual(recallTolerance(report.accepted));
    expect(report.trials.every((t) => t.accepted > 0)).toBe(true);
    const engine = await startEngine({ workers: 2, 'hnsw.dimension': 32, 'hnsw.shards': 2 }, ['--data-dir', dataDir]);
    try {
      const stats = await engine.client().stats();
      expect(stats.spaces).toHaveLength(2);
      for (const space of stats.spaces) expect(space.shards, space.memorySpace).toHaveLength(2);
      expect((await engine.client().getConfig()).reshard.spacesPending).toBe(0);
    } finally {
      await engine.stop();
    }
  }, 300_000);
});

describe('automatic splitting', () => {
  it('splits a space whose backlog stays over the threshold while a worker idles, losing nothing', async () => {
    const dim = 384;
    const engine = await startEngine({ workers: 2, 'hnsw.dimension': dim, 'queue.capacity': 30_000, 'hnsw.autoSplit.backlog': 500, 'hnsw.autoSplit.maxShards': 2 });
    try {
      const client = engine.client();
      const data = clusteredObservations('hot', 16_000, dim, 17);
      const stream = await client.openStream({ memorySpace: 'hot', maxBatch: 500 });
      for (const o of data) await stream.send(o);
      expect(await stream.close({ drain: true })).toMatchObject({ accepted: 16_000, indexed: 16_000, rejected: 0 });
      await eventually('the split to finish', async () => ((await client.getConfig()).reshard.spacesPending === 0 && (await client.stats()).spaces[0]?.shards.length === 2 ? true : undefined), 60_000);
      const split = engine.logEntries().find((e) => e.message === 'memory space split automatically: its backlog stayed over the threshold while a worker had room');
      expect(split).toMatchObject({ space: 'hot', from: 1, to: 2 });
      await expectStored(client, 'hot', data);
      // it splits no further than maxShards, and a split space stays split
      expect((await client.stats()).spaces[0]?.shards.map((s) => s.worker).sort()).toEqual([0, 1]);
    } finally {
      await engine.stop();
    }
  }, 180_000);
});
