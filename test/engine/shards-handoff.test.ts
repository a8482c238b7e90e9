// A split memory space handed to another pod: the source merges its shards into one index for the
// copy (pods exchange one index per space), the copy is verified (count and checksum over every
// shard), and the new owner splits it again to the shard count its own config gives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngramClient } from '../../engine/dist/client/engram-client.js';
import { Placement, type PlacementSpec } from '../../engine/dist/placement/placement.js';
import { expectStored } from '../helpers/durability.js';
import { eventually } from '../helpers/eventually.js';
import { startEngine, type EngineProcess } from '../helpers/engine-process.js';
import { clusteredObservations } from '../helpers/vectors.js';

const DIM = 32;

describe('a split space handed to another pod', () => {
  const engines: EngineProcess[] = [];
  const clients: EngramClient[] = [];
  const client = (e: EngineProcess) => {
    const c = new EngramClient(e.address);
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    engines.push(await startEngine({ 'hnsw.dimension': DIM, workers: 2, 'hnsw.shards': 2 }, ['--member-name', 'sh-0']));
    engines.push(await startEngine({ 'hnsw.dimension': DIM, workers: 2, 'hnsw.shards': 3 }, ['--member-name', 'sh-1']));
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    for (const e of engines) await e.stop();
  });

  it('arrives whole, verified, and split as the new owner\'s config says', async () => {
    const members = engines.map((e, ordinal) => ({ ordinal, name: `sh-${ordinal}`, address: e.address }));
    const first: PlacementSpec = { generation: 1, members, assignments: {} };
    for (const e of engines) await client(e).applyPlacement(first);
    const space = Array.from({ length: 50 }, (_, i) => `sh-space-${i}`).find((s) => new Placement(first).ownerOf(s).ordinal === 0)!;
    const data = clusteredObservations(space, 3000, DIM, 9);
    const stream = await client(engines[0]!).openStream({ memorySpace: space, maxBatch: 200 });
    for (const o of data) await stream.send(o);
    expect(await stream.close({ drain: true })).toMatchObject({ accepted: 3000, indexed: 3000 });
    expect((await client(engines[0]!).stats()).spaces.find((s) => s.memorySpace === space)?.shards).toHaveLength(2);

    await client(engines[1]!).startImport(space, engines[0]!.address, 'split-1');
    const verified = await eventually('the import to be verified', async () => {
      const h = (await client(engines[1]!).handoffs()).imports.find((i) => i.handoffId === 'split-1');
      if (h?.phase === 'failed') throw new Error(h.error);
      return h?.phase === 'verified' ? h : undefined;
    }, 60_000);
    expect(verified.count).toBe(3000);
    for (const e of engines) await client(e).applyPlacement({ generation: 2, members, assignments: { [space]: 1 } });

    const target = client(engines[1]!);
    await eventually('the new owner to split the space', async () => ((await target.stats()).spaces.find((s) => s.memorySpace === space)?.shards.length === 3 ? true : undefined), 60_000);
    await expectStored(target, space, data);
  }, 120_000);
});
