// Resharding live: a change of a space's shard count builds its new shards in the background
// while a client streams into it and recalls from it, then switches in one step; nothing
// acknowledged is lost (every id checked by Fetch), no recall fails. A SIGKILL in the middle of a
// reshard restarts into one whole layout, never a mix, and the reshard is done again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngramClient } from '../../engine/dist/client/engram-client.js';
import { checkStored } from '../../engine/dist/testing/stored-check.js';
import { sendNotingAccepted } from '../helpers/accepted-ids.js';
import { waitFor } from '../helpers/durability.js';
import { startEngine, type EngineProcess } from '../helpers/engine-process.js';
import { clusteredObservations, metricValue } from '../helpers/vectors.js';

const DIM = 64;

async function shardsOf(client: EngramClient, space: string): Promise<number> {
  return (await client.stats()).spaces.find((s) => s.memorySpace === space)?.shards.length ?? 0;
}

/** Waits until no reshard is pending and `space` has `count` shards. */
async function resharded(client: EngramClient, space: string, count: number): Promise<void> {
  await waitFor(async () => (await client.getConfig()).reshard.spacesPending === 0 && (await shardsOf(client, space)) === count, 120_000, `${space} in ${count} shards`);
}

describe('resharding a space live', () => {
  let engine: EngineProcess;
  beforeAll(async () => {
    engine = await startEngine({ workers: 2, 'hnsw.dimension': DIM, stealThreshold: 0, 'durability.snapshotIntervalMs': 1000 });
  });
  afterAll(async () => {
    await engine.stop();
  });

  it('goes 1 → 4 → 2 shards under writes and recalls, losing nothing and failing no recall', async () => {
    const client = engine.client();
    const data = clusteredObservations('live', 24_000, DIM, 3);
    const accepted = new Set<string>();
    const stream = await client.openStream({ memorySpace: 'live', maxBatch: 200 });
    const send = sendNotingAccepted(stream, accepted);
    for (const o of data.slice(0, 6000)) await send(o);
    let writing = true;
    const writer = (async () => {
      for (const o of data.slice(6000)) {
        if (!writing) break;
        await send(o);
        if (accepted.size % 500 === 0) await new Promise((r) => setTimeout(r, 1));
      }
    })();
    let recalls = 0;
    const failures: string[] = [];
    const reader = (async () => {
      while (writing) {
        const o = data[recalls % 6000]!;
        try {
          const { hits } = await client.recall({ memorySpace: 'live', vector: o.embedding, k: 5 });
          if (hits.length === 0) failures.push(`no hits for ${o.id}`);
        } catch (e) {
          failures.push(String(e));
        }
        recalls++;
      }
    })();
    const seen: number[] = [];
    for (const count of [4, 2]) {
      await client.applyConfig({ hnsw: { shardOverrides: [{ spaces: 'live', shards: count }] } });
      await resharded(client, 'live', count);
      seen.push(await shardsOf(client, 'live'));
    }
    writing = false;
    await writer;
    await reader;
    const counts = await stream.close({ drain: true });
    expect(seen).toEqual([4, 2]);
    expect(failures).toEqual([]);
    expect(recalls).toBeGreaterThan(10);
    expect(counts.rejected).toBe(0);
    const sent = data.filter((o) => accepted.has(o.id));
    expect(sent.length).toBeGreaterThan(6000);
    const { lost } = await checkStored(client, sent.map((o) => ({ space: 'live', ...o })));
    expect(lost).toEqual([]);
    const stats = (await client.stats()).spaces.find((s) => s.memorySpace === 'live')!;
    expect(stats.vectors).toBe(accepted.size);
    expect(stats.shards.reduce((n, s) => n + Number(s.vectors), 0)).toBe(accepted.size);
    const metrics = await engine.metrics();
    expect(metricValue(metrics, 'engram_index_reshards_total', { result: 'done' })).toBe(2);
    expect(metricValue(metrics, 'engram_index_shards', { memory_space: 'live' })).toBe(2);
  }, 240_000);
});

describe('a SIGKILL in the middle of a reshard', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'engram-reshard-kill-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('restarts into one whole layout, reshards again, and has every acknowledged observation', async () => {
    const config = { workers: 2, 'hnsw.dimension': DIM, stealThreshold: 0 };
    let engine = await startEngine(config, ['--data-dir', dataDir]);
    const client = engine.client();
    const data = clusteredObservations('crash', 20_000, DIM, 5);
    const stream = await client.openStream({ memorySpace: 'crash', maxBatch: 500 });
    for (const o of data) await stream.send(o);
    expect(await stream.close({ drain: true })).toMatchObject({ accepted: 20_000, indexed: 20_000 });
    await client.applyConfig({ hnsw: { shardOverrides: [{ spaces: 'crash', shards: 4 }] } });
    await waitFor(async () => (await client.getConfig()).reshard.current?.space === 'crash', 30_000, 'the reshard to start');
    engine.process.kill('SIGKILL');
    await engine.stop();

    engine = await startEngine({ ...config, 'hnsw.shardOverrides': [{ spaces: 'crash', shards: 4 }] }, ['--data-dir', dataDir]);
    try {
      const after = engine.client();
      // One whole layout at once: either the old one or the new one, never parts of both.
      expect([1, 4]).toContain(await shardsOf(after, 'crash'));
      expect((await checkStored(after, data.map((o) => ({ space: 'crash', ...o })))).lost).toEqual([]);
      await resharded(after, 'crash', 4);
      expect((await checkStored(after, data.map((o) => ({ space: 'crash', ...o })))).lost).toEqual([]);
    } finally {
      await engine.stop();
    }
  }, 240_000);
});

