// Engines as members of a multi-pod stream, driven the way the operator drives them but by hand:
// a placement is installed on each; any engine serves any space (forwarding, stream-aware);
// clients that route by themselves get SPACE_MOVED and the owner's address; a placement that
// would leave data behind, or an older one, is refused; a hand-off copies a space under writes and
// verifies it before the flip, and the old owner then drops it for good (a restart does not bring
// it back); a hand-off given up before its flip is reopened on the owner; a restarted member takes no writes until its placement is confirmed; tenant quotas
// and rate limits hold for the whole stream.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngramClient } from '../../engine/dist/client/engram-client.js';
import { RoutingClient } from '../../engine/dist/client/routing-client.js';
import { Placement, type PlacementSpec } from '../../engine/dist/placement/placement.js';
import { eventually } from '../helpers/eventually.js';
import { startEngine, type EngineProcess } from '../helpers/engine-process.js';
import { clusteredObservations, metricValue } from '../helpers/vectors.js';

const DIM = 32;
const SPACES = ['pl-a', 'pl-b', 'pl-c', 'pl-d', 'pl-e', 'pl-f'];

describe('placement, forwarding and hand-off between engines', () => {
  const engines: EngineProcess[] = [];
  const clients: EngramClient[] = [];
  let spec: PlacementSpec;
  const client = (e: EngineProcess, options: { direct?: boolean } = {}) => {
    const c = new EngramClient(e.address, options);
    clients.push(c);
    return c;
  };
  const members = () => engines.map((e, ordinal) => ({ ordinal, name: `pl-${ordinal}`, address: e.address }));
  const install = async (next: PlacementSpec) => {
    for (const e of engines) await client(e).applyPlacement(next);
    spec = next;
  };
  const owner = (space: string) => new Placement(spec).ownerOf(space).ordinal;
  const write = async (via: EngineProcess, space: string, from: number, count: number) => {
    const s = await client(via).openStream({ memorySpace: space, maxBatch: 50 });
    for (const o of clusteredObservations(space, from + count, DIM).slice(from)) await s.send(o);
    return s.close({ drain: true });
  };

  // data directories of our own: the old owner is restarted on its directory
  const dataDirs = ['pl-0', 'pl-1'].map((name) => mkdtempSync(join(tmpdir(), `engram-${name}-`)));
  beforeAll(async () => {
    for (const [i, name] of ['pl-0', 'pl-1'].entries()) engines.push(await startEngine({ 'hnsw.dimension': DIM, workers: 1 }, ['--member-name', name, '--data-dir', dataDirs[i]!]));
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    for (const e of engines) await e.stop();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('a member serves nothing it does not hold before its first placement, and refuses placements that do not list it', async () => {
    const early = await client(engines[0]!).openStream({ memorySpace: 'pl-early', maxBatch: 10 }).then(() => null, (e: { code: number; details: string }) => e);
    expect(early?.code).toBe(14);
    expect(early?.details).toBe("this engine (pl-0) has not received its stream's placement yet, so it cannot route memory space 'pl-early'; retry");
    const notListed = await client(engines[0]!).applyPlacement({ generation: 1, members: [members()[1]!], assignments: {} }).catch((e: { details: string }) => e.details);
    expect(notListed).toBe('the placement does not list this engine (pl-0) as a member');
    await install({ generation: 1, members: members(), assignments: {} });
  });

  it('serves any space through any engine, forwarding streams and recalls to the owner', async () => {
    for (const [i, space] of SPACES.entries()) await write(engines[i % 2]!, space, 0, 100);
    expect(new Set(SPACES.map(owner)).size).toBe(2); // both engines own some
    for (const e of engines) {
      const stats = await client(e).stats();
      const mine = SPACES.filter((s) => owner(s) === engines.indexOf(e));
      expect(stats.spaces.filter((s) => s.owned).map((s) => s.memorySpace).sort()).toEqual(mine.sort());
      for (const s of stats.spaces) expect(Number(s.vectors)).toBe(100);
    }
    const query = clusteredObservations('pl-a', 10, DIM)[7]!;
    for (const e of engines) {
      const hits = await client(e).recall({ memorySpace: 'pl-a', vector: query.embedding, k: 1 });
      expect(hits.hits[0]?.id).toBe('pl-a-7');
    }
    const metrics = await Promise.all(engines.map((e) => e.metrics()));
    const total = metrics.reduce((n, m) => n + (metricValue(m, 'engram_forwarded_requests_total', { grpc_method: 'ObserveStream', result: 'ok' }) ?? 0), 0);
    expect(total).toBe(SPACES.filter((space, i) => owner(space) !== i % 2).length); // the streams sent to the non-owner
  });

  it('ends a forwarded stream when its owner shuts down under it: the client\'s close settles, never waits forever', async () => {
    const space = SPACES.find((sp) => owner(sp) === 1)!;
    const stream = await client(engines[0]!).openStream({ memorySpace: space, maxBatch: 10 });
    stream.on('error', () => undefined);
    for (const o of clusteredObservations(space, 110, DIM).slice(100)) await stream.send(o);
    // the owner stops (as a canary pod scaled away does): the forwarded leg ends under the proxy
    await engines[1]!.stop();
    const outcome = await Promise.race([
      stream.close({ drain: false }).then(() => 'closed', (e: { code?: number }) => `failed with ${e.code ?? 'an error'}`),
      new Promise<string>((r) => setTimeout(() => r('still waiting after 15 s'), 15_000)),
    ]);
    expect(outcome).not.toBe('still waiting after 15 s');
    engines[1] = await startEngine({ 'hnsw.dimension': DIM, workers: 1 }, ['--member-name', 'pl-1', '--data-dir', dataDirs[1]!]);
    await install({ ...spec, members: members(), generation: spec.generation + 1 });
  });

  it('holds a tenant to its quota over the whole stream, with what the operator says it stores elsewhere', async () => {
    for (const e of engines) await client(e).applyConfig({ tenants: [{ name: 'acme', spaces: ['acme-*'], maxVectors: 150, rateLimit: 1000 }] });
    const space = ['acme-1', 'acme-2', 'acme-3', 'acme-4'].find((s) => owner(s) === 1)!;
    await client(engines[1]!).setStreamUsage({ acme: { vectors: 100, spaces: 1 } });
    const s = await client(engines[1]!).openStream({ memorySpace: space, maxBatch: 50 });
    const refusals: string[] = [];
    s.on('rejected', (ack) => refusals.push(`${ack.code}: ${ack.reason}`));
    for (const o of clusteredObservations(space, 80, DIM)) await s.send(o);
    const counts = await s.close({ drain: true });
    expect(counts.accepted).toBe(50);
    expect(refusals[0]).toBe(`REJECT_QUOTA_EXCEEDED: tenant 'acme' stores 150 of its 150 vectors; this observation is refused for good (raise maxVectors to store more)`);
    // and its rate limit is shared: 1000/s over the 2 pods of the ring
    const init = await client(engines[1]!).openStream({ memorySpace: space });
    expect(init.init.capabilities?.maxObservationsPerSecond).toBe(500);
    init.cancel();
    await client(engines[1]!).setStreamUsage({});
    for (const e of engines) await client(e).applyConfig({ tenants: [] });
  });

  it('answers direct clients with SPACE_MOVED and the owner, which RoutingClient follows', async () => {
    const space = SPACES.find((s) => owner(s) === 1)!;
    const error = await client(engines[0]!, { direct: true }).recall({ memorySpace: space, vector: clusteredObservations(space, 1, DIM)[0]!.embedding, k: 1 })
      .then(() => null, (e: { code: number; details: string; metadata: { get(k: string): unknown[] } }) => e);
    expect(error?.code).toBe(9);
    expect(error?.metadata.get('engram-error-code')).toEqual(['SPACE_MOVED']);
    expect(error?.metadata.get('engram-owner-address')).toEqual([engines[1]!.address]);
    expect(error?.details).toBe(`memory space '${space}' is owned by pl-1 at ${engines[1]!.address} (placement generation ${spec.generation})`);
    const routing = new RoutingClient(engines[0]!.address);
    const hit = await routing.recall({ memorySpace: space, vector: clusteredObservations(space, 5, DIM)[4]!.embedding, k: 1 });
    expect(hit.hits[0]?.id).toBe(`${space}-4`);
    routing.close();
  });

  it('refuses a placement that would leave held data behind, and one older than the installed', async () => {
    const space = SPACES.find((s) => owner(s) === 0)!;
    const taken: PlacementSpec = { generation: 2, members: members(), assignments: { [space]: 1 } };
    const refused = await client(engines[0]!).applyPlacement(taken).catch((e: { details: string }) => e.details);
    expect(refused).toContain(`gives memory spaces this engine holds to other pods without a hand-off: ${space}`);
    await install({ ...spec, generation: 2 });
    const older = await client(engines[0]!).applyPlacement({ ...spec, generation: 1 }).catch((e: { details: string }) => e.details);
    expect(older).toBe('placement generation 1 is older than the installed 2');
  });

  it('refuses to take in a space it has no memory for, saying how much it needs and has', async () => {
    const space = Array.from({ length: 50 }, (_, i) => `pl-mem-${i}`).find((s) => owner(s) === 0)!;
    await write(engines[0]!, space, 0, 200);
    const target = client(engines[1]!);
    await target.applyConfig({ memory: { limitBytes: 32 * 1024 * 1024 } }); // below what the engine already uses
    await new Promise((r) => setTimeout(r, 600)); // the guard reads memory every 200 ms
    await target.startImport(space, engines[0]!.address, 'mem-1');
    const failed = await eventually('the import to fail', async () => {
      const h = (await target.handoffs()).imports.find((i) => i.handoffId === 'mem-1');
      return h?.phase === 'failed' ? h : undefined;
    });
    expect(failed.error).toMatch(new RegExp(`^not enough memory on pl-1 for memory space '${space}': its snapshot is [\\d.]+ MiB and 0\\.0 MiB are left under the engine's memory watermark; raise the pods' memory limit, or keep more pods$`));
    await target.applyConfig({ memory: { limitBytes: 0 } });
    await new Promise((r) => setTimeout(r, 600)); // lifted for the next hand-off once the guard read memory again
    expect((await client(engines[0]!).handoffs()).sealed).toEqual([]); // the source was never fenced for good
  });

  it('reopens a space whose verified hand-off was given up: writes resume on the owner, the copy is released', async () => {
    const space = Array.from({ length: 50 }, (_, i) => `pl-gone-${i}`).find((s) => owner(s) === 0)!;
    const [source, target] = [client(engines[0]!), client(engines[1]!)];
    await write(engines[0]!, space, 0, 100);
    await target.startImport(space, engines[0]!.address, 'given-up-1');
    await eventually('the import to be verified', async () => {
      const h = (await target.handoffs()).imports.find((i) => i.handoffId === 'given-up-1');
      if (h?.phase === 'failed') throw new Error(h.error);
      return h?.phase === 'verified' ? h : undefined;
    }, 60_000);
    expect((await source.handoffs()).sealed).toEqual([space]);
    // the operator gives the move up (no flip): only the owner may reopen
    await expect(target.reopenSpace(space)).rejects.toThrow(/is not owned by this engine at placement generation \d+; only its owner can reopen it/);
    expect(await source.reopenSpace(space)).toBe(true);
    expect(await source.reopenSpace(space)).toBe(false);
    expect((await source.handoffs()).sealed).toEqual([]);
    expect((await write(engines[0]!, space, 100, 50)).accepted).toBe(50);
    expect(await target.releaseSpace(space)).toBe(100);
    expect((await source.fetch(space, clusteredObservations(space, 150, DIM).map((o) => o.id))).missingIds).toEqual([]);
  });

  it('hands a space over under writes: verified copy, flip, the old owner drops it and a restart does not bring it back', async () => {
    const space = SPACES.find((s) => owner(s) === 0)!;
    const [source, target] = [engines[0]!, engines[1]!];
    // keep writing through the target (forwarded to the source) while the copy runs
    const writer = (async () => {
      const s = await client(target).openStream({ memorySpace: space, maxBatch: 20 });
      const accepted: string[] = [];
      const observations = clusteredObservations(space, 3000, DIM).slice(100);
      let sequence = 0;
      s.on('ack', (ack) => {
        if (ack.status === 'ACCEPTED') for (let n = Number(ack.firstSequence); n <= Number(ack.lastSequence); n++) accepted.push(observations[n - 1]!.id);
      });
      try {
        for (const o of observations) {
          sequence++;
          await s.send(o);
        }
        await s.close({ drain: false });
      } catch {
        // the stream ends when the space moves: what was not accepted is not ours to check
      }
      return { accepted, sent: sequence };
    })();
    await new Promise((r) => setTimeout(r, 300));
    await client(target).startImport(space, source.address, 'test-1');
    const verified = await eventually('the import to be verified', async () => {
      const h = (await client(target).handoffs()).imports.find((i) => i.handoffId === 'test-1');
      if (h?.phase === 'failed') throw new Error(h.error);
      return h?.phase === 'verified' ? h : undefined;
    }, 60_000);
    expect((await client(source).handoffs()).sealed).toEqual([space]);
    // sealed: the source refuses writes (retryable) until the flip
    const paused = await client(source).openStream({ memorySpace: space, maxBatch: 1 });
    const moving = new Promise<string>((resolve) => paused.on('refused', (ack) => resolve(String(ack.code))));
    void paused.send(clusteredObservations(space, 5000, DIM)[4000]!);
    expect(await moving).toBe('REJECT_SPACE_MOVING');
    paused.cancel();
    await install({ generation: 3, members: members(), assignments: { [space]: 1 }, ring: [0, 1] });
    const { accepted } = await writer;
    expect(accepted.length).toBeGreaterThan(0);
    const ids = [...clusteredObservations(space, 100, DIM).map((o) => o.id), ...accepted];
    expect(verified.count).toBeGreaterThanOrEqual(ids.length);
    // the new owner has everything acknowledged; the old one holds nothing of it
    const found = await client(target).fetch(space, ids.slice(0, 1000));
    expect(found.missingIds).toEqual([]);
    const targetStats = (await client(target).stats()).spaces.find((s) => s.memorySpace === space);
    expect(targetStats).toMatchObject({ owned: true, vectors: verified.count });
    expect((await client(source).stats()).spaces.map((s) => s.memorySpace)).not.toContain(space);
    expect((await client(source).handoffs()).sealed).toEqual([]);
    // restart the old owner on its data directory: the space stays gone, the placement is kept,
    // and until it is confirmed again it takes no writes
    await source.stop();
    engines[0] = await startEngine({ 'hnsw.dimension': DIM, workers: 1 }, ['--member-name', 'pl-0', '--data-dir', dataDirs[0]!]);
    const restarted = engines[0]!;
    expect((await client(restarted).stats()).spaces.map((s) => s.memorySpace)).not.toContain(space);
    expect(await client(restarted).topology()).toMatchObject({ generation: 3, confirmed: false });
    const other = Array.from({ length: 50 }, (_, i) => `pl-new-${i}`).find((s) => owner(s) === 0)!;
    const s = await client(restarted).openStream({ memorySpace: other, maxBatch: 1 });
    const refusedAfterRestart = new Promise<string>((resolve) => s.on('refused', (ack) => resolve(String(ack.code))));
    void s.send(clusteredObservations(other, 1, DIM)[0]!);
    expect(await refusedAfterRestart).toBe('REJECT_SPACE_MOVING');
    s.cancel();
    // the old placement still names the old address of pl-0: install one with the new address
    await install({ ...spec, generation: 4, members: members() });
    expect(await client(restarted).topology()).toMatchObject({ generation: 4, confirmed: true });
    await write(restarted, other, 0, 10);
  });
});
