// Scale-out on the real control plane: memory spaces spread over engine pods by the operator's
// placement, any pod serving any space (forwarded to its owner), and resizes that move spaces with
// a verified hand-off while a client keeps writing into 30 spaces and recalling from them.
// Nothing acknowledged is lost, nothing is stored twice, recalls fail only with retryable codes;
// a hand-off whose source or target pod is killed completes once the pod is back; a resize whose
// operator is killed is finished by the next leader from what the API stores.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngramClient } from '../../engine/dist/client/engram-client.js';
import { Placement } from '../../engine/dist/placement/placement.js';
import { SpaceLoad, type SpaceLoadReport } from '../helpers/space-load.js';
import { eventually, grpcAddress, startOperatorCluster, type OperatorCluster, type OperatorProcess } from './operator-harness.js';

interface Stream {
  metadata: { generation: number };
  status?: {
    observedGeneration?: number;
    conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
    placement?: { generation: number; ring: number; desiredRing: number; movesInProgress: number; movesPending: number; moves: Array<{ space: string; phase: string; from: number; to: number }> };
    pods?: Array<{ name: string; owned?: { spaces: number; vectors: number; copies: number } }>;
  };
}
interface EventList { items: Array<{ reason: string; message: string; type: string }> }

const DIM = 64;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const member = (ordinal: number) => ({ ordinal, name: `${NAME}-${ordinal}`, address: `pod-${ordinal}:50051` });
const NAME = 'fleet';
const RETRYABLE = new Set(['14' /* UNAVAILABLE */, '4' /* DEADLINE_EXCEEDED */, '8' /* RESOURCE_EXHAUSTED */]);

describe('scale-out: memory spaces over engine pods', () => {
  let oc: OperatorCluster;
  let operator: OperatorProcess;
  const clients = new Map<string, EngramClient>();
  const spaces = Array.from({ length: 30 }, (_, i) => `space-${String(i).padStart(2, '0')}`);
  const resizes: Array<{ to: number; seconds: number; handoffs: number }> = [];
  let report: SpaceLoadReport;

  const kubectl = (...args: string[]) => oc.kubectl(args);
  const stream = async () => JSON.parse(await kubectl('get', 'engramstream', NAME, '-o', 'json')) as Stream;
  const readyPods = () => oc.readyEnginePods(NAME);
  const addresses = async () => (await readyPods()).map(grpcAddress);
  /** The stream's admin key (API keys are on by default), read once the operator made it. */
  let apiKey = '';
  const client = (address: string) => {
    let c = clients.get(address);
    if (!c) {
      c = new EngramClient(address, { deadlineMs: 10_000, apiKey });
      clients.set(address, c);
    }
    return c;
  };
  const condition = (s: Stream, type: string) => s.status?.conditions?.find((c) => c.type === type);
  /** The stream once the ring is `n` pods, nothing moves, and exactly `n` pods run. */
  const settledAt = (n: number, timeoutMs = 240_000) => eventually(`${NAME} settled on ${n} pods`, async () => {
    const s = await stream();
    const p = s.status?.placement;
    const pods = await readyPods();
    const balanced = condition(s, 'Rebalancing')?.status === 'False';
    if (balanced && p?.ring === n && p.movesInProgress === 0 && pods.length === n && s.status?.observedGeneration === s.metadata.generation) return s;
    throw new Error(`${pods.length} pods ready; placement ${JSON.stringify(p)}; Rebalancing ${JSON.stringify(condition(s, 'Rebalancing'))}; Degraded ${JSON.stringify(condition(s, 'Degraded'))}`);
  }, timeoutMs);
  const scaleTo = async (n: number): Promise<void> => {
    const before = (await events()).filter((e) => e.reason === 'HandoffCompleted').length;
    const started = Date.now();
    await kubectl('scale', `engramstream/${NAME}`, `--replicas=${n}`);
    await settledAt(n);
    const handoffs = (await events()).filter((e) => e.reason === 'HandoffCompleted').length - before;
    resizes.push({ to: n, seconds: (Date.now() - started) / 1000, handoffs });
  };
  const events = async () => (JSON.parse(await kubectl('get', 'events', '--field-selector', `involvedObject.name=${NAME}`, '-o', 'json')) as EventList).items;
  /** Owner pods' stats: every space owned by exactly one pod; vectors by space. */
  const ownedVectors = async (): Promise<Map<string, number[]>> => {
    const out = new Map<string, number[]>();
    for (const address of await addresses()) {
      for (const s of (await client(address).stats()).spaces) {
        if (!s.owned) continue;
        out.set(s.memorySpace, [...(out.get(s.memorySpace) ?? []), Number(s.vectors)]);
      }
    }
    return out;
  };

  beforeAll(async () => {
    oc = await startOperatorCluster();
    operator = await oc.startOperator('op-a');
  }, 180_000);

  afterAll(async () => {
    for (const c of clients.values()) c.close();
    await oc?.stop();
  });

  it('three replicas: streams through any pod reach the owners, recalls through any pod find every acknowledged id', async () => {
    const manifest = { apiVersion: 'engram.io/v1alpha1', kind: 'EngramStream', metadata: { name: NAME, namespace: 'default' }, spec: { replicas: 3, workers: 1, hnsw: { dimension: DIM } } };
    await oc.kubectl(['apply', '-f', '-'], JSON.stringify(manifest));
    apiKey = await oc.adminKey(NAME);
    const settled = await settledAt(3);
    expect(settled.status?.placement?.generation).toBeGreaterThanOrEqual(1);
    const pods = await addresses();
    // write each of 6 spaces through a different pod than its owner half the time
    for (const [i, space] of spaces.slice(0, 6).entries()) {
      const s = await client(pods[i % pods.length]!).openStream({ memorySpace: space });
      for (let n = 0; n < 50; n++) await s.send({ id: `warm-${space}-${n}`, embedding: Array.from({ length: DIM }, (_, d) => Math.sin(n * 31 + d + i)) });
      await s.close({ drain: true });
    }
    const owners = await ownedVectors();
    for (const space of spaces.slice(0, 6)) expect(owners.get(space), space).toEqual([50]); // one owner, all 50
    expect(new Set([...owners.keys()].map((space) => space)).size).toBe(6);
    for (const address of pods) {
      for (const space of spaces.slice(0, 6)) {
        const found = await client(address).fetch(space, Array.from({ length: 50 }, (_, n) => `warm-${space}-${n}`));
        expect(found.missingIds, `${space} via ${address}`).toEqual([]);
      }
    }

  });

  it('scales 3 → 1 → 3 → 5 → 2 under a stream into 30 spaces with recalls: nothing acknowledged lost or doubled', async () => {
    await scaleTo(1);
    const load = new SpaceLoad({ spaces, dimension: DIM, addresses, ratePerSpace: 20, recallsPerSecond: 20, clientOptions: { apiKey } });
    await new Promise((r) => setTimeout(r, 3000));
    await scaleTo(3);
    await scaleTo(5);
    await scaleTo(2);
    await new Promise((r) => setTimeout(r, 2000));
    report = await load.stop();
    const acknowledged = [...report.acknowledged.values()].reduce((n, s) => n + s.size, 0);
    expect(acknowledged).toBeGreaterThan(2000);
    // every acknowledged id is stored, through any pod
    const pods = await addresses();
    for (const space of spaces) {
      const ids = [...report.acknowledged.get(space)!];
      for (let at = 0; at < ids.length; at += 1000) {
        const found = await client(pods[at % pods.length]!).fetch(space, ids.slice(at, at + 1000));
        expect(found.missingIds, space).toEqual([]);
      }
    }
    // one owner per space, holding each id once: no more vectors than distinct ids ever sent
    const owners = await ownedVectors();
    for (const space of spaces) {
      const held = owners.get(space) ?? [];
      expect(held.length, `${space} owners`).toBe(1);
      expect(held[0]!, space).toBeGreaterThanOrEqual(report.acknowledged.get(space)!.size);
      expect(held[0]!, space).toBeLessThanOrEqual(report.sent.get(space)!.size + (space < 'space-06' ? 50 : 0));
    }
    const perPod = (await settledAt(2)).status?.pods?.map((p) => p.owned?.spaces ?? 0) ?? [];
    expect(perPod.reduce((a, b) => a + b, 0), 'owned spaces in the status').toBe(30);
    const completed = (await events()).filter((e) => e.reason === 'HandoffCompleted').map((e) => /copied in ([\d.]+) s, writes paused ([\d.]+) s/.exec(e.message)).filter((m) => m !== null);
    const sorted = (values: number[]) => values.sort((a, b) => a - b);
    const copy = sorted(completed.map((m) => Number(m[1])));
    const pause = sorted(completed.map((m) => Number(m[2])));
    console.log(JSON.stringify({
      handoffs: completed.length, copySecondsMedian: copy[Math.floor(copy.length / 2)], copySecondsMax: copy.at(-1),
      writePauseSecondsMedian: pause[Math.floor(pause.length / 2)], writePauseSecondsMax: pause.at(-1),
      resizes, acknowledged, reconnects: report.reconnects, recalls: report.recalls, recallFailures: report.recallFailures,
      longestAckGapMs: Math.max(...report.longestAckGapMs.values()),
      medianLongestAckGapMs: [...report.longestAckGapMs.values()].sort((a, b) => a - b)[Math.floor(spaces.length / 2)],
    }));
    const failures = Object.entries(report.recallFailures);
    for (const [code] of failures) expect(RETRYABLE.has(code), `recall failed with code ${code}`).toBe(true);
  }, 900_000);

  /** A space the ring moves to `to` when it grows from `from` to `from + 1` pods. */
  const spaceMovingTo = (to: number, from: number, prefix: string): { space: string; source: number } => {
    const small = new Placement({ generation: 1, members: range(from).map(member), assignments: {} });
    const big = new Placement({ generation: 1, members: range(from + 1).map(member), assignments: {} });
    for (let i = 0; ; i++) {
      const space = `${prefix}-${i}`;
      if (big.ringOwner(space) === to) return { space, source: small.ringOwner(space) };
    }
  };
  const podAddress = async (ordinal: number) => eventually(`${NAME}-${ordinal} ready`, async () => {
    const pod = (await readyPods()).find((p) => p.metadata.name === `${NAME}-${ordinal}`);
    return pod ? grpcAddress(pod) : undefined;
  });
  const killPod = (ordinal: number) => {
    for (const pid of oc.agent.pidsOf('default', `${NAME}-${ordinal}`)) process.kill(pid, 'SIGKILL');
  };
  /**
   * Polls the target engine as fast as it answers (a hand-off can take well under a second) until
   * it reports an import of `space` under way, then kills pod `victim`.
   */
  const killWhenImportStarts = async (target: number, space: string, victim: number): Promise<string> => {
    const address = await podAddress(target);
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const h = await client(address).handoffs().then((r) => r.imports.find((i) => i.memorySpace === space), () => undefined);
      if (h && h.phase !== 'verified' && h.phase !== 'failed') {
        killPod(victim);
        return h.phase;
      }
      if (h?.phase === 'verified') throw new Error(`the hand-off of ${space} to pod ${target} completed before it was seen running`);
      await new Promise((r) => setTimeout(r, 2));
    }
    throw new Error(`no import of ${space} started on pod ${target} within 120 s`);
  };
  const expectAllStored = async (load: SpaceLoadReport, space: string) => {
    const ids = [...load.acknowledged.get(space)!];
    const pods = await addresses();
    for (let at = 0; at < ids.length; at += 1000) {
      expect((await client(pods[0]!).fetch(space, ids.slice(at, at + 1000))).missingIds, space).toEqual([]);
    }
    const owners = (await ownedVectors()).get(space) ?? [];
    expect(owners.length, `${space} owners`).toBe(1);
    expect(owners[0]!).toBeGreaterThanOrEqual(ids.length);
    expect(owners[0]!).toBeLessThanOrEqual(load.sent.get(space)!.size);
  };
  const handoffEvents = async (space: string) => (await events()).filter((e) => e.message.includes(`'${space}'`)).map((e) => e.reason);

  it('a hand-off survives its source pod, then its target pod, being killed mid-transfer', async () => {
    // 2 pods now. A space that moves to the new pod 2 when the ring grows to 3, filled first.
    const { space, source } = spaceMovingTo(2, 2, 'bulk');
    const load = new SpaceLoad({ spaces: [space], dimension: DIM, addresses, ratePerSpace: 200, recallsPerSecond: 5, clientOptions: { apiKey } });
    await eventually(`${space} to hold 5000 acknowledged`, async () => (load.report.acknowledged.get(space)!.size >= 5000 ? true : undefined), 120_000);
    await kubectl('scale', `engramstream/${NAME}`, '--replicas=3');
    const phaseAtKill = await killWhenImportStarts(2, space, source);
    await settledAt(3);
    expect(await handoffEvents(space)).toContain('HandoffCompleted');
    // and back: scale to 2 moves it to its old owner; kill that target mid-transfer
    await kubectl('scale', `engramstream/${NAME}`, '--replicas=2');
    const phaseAtTargetKill = await killWhenImportStarts(source, space, source);
    await settledAt(2);
    const report = await load.stop();
    await expectAllStored(report, space);
    const reasons = await handoffEvents(space);
    expect(reasons.filter((r) => r === 'HandoffCompleted').length).toBeGreaterThanOrEqual(2);
    console.log(JSON.stringify({ space, source, phaseAtKill, phaseAtTargetKill, reasons, acknowledged: report.acknowledged.get(space)!.size }));
  }, 600_000);

  it('a resize whose operator is killed mid-way is finished by the next leader from what the API stores', async () => {
    const fresh = spaces.map((s) => s.replace('space-', 'again-'));
    const load = new SpaceLoad({ spaces: fresh, dimension: DIM, addresses, ratePerSpace: 10, recallsPerSecond: 5, clientOptions: { apiKey } });
    await new Promise((r) => setTimeout(r, 2000));
    await kubectl('scale', `engramstream/${NAME}`, '--replicas=4');
    await eventually('moves under way', async () => ((await stream()).status?.placement?.movesInProgress ?? 0) > 0 ? true : undefined, 180_000);
    const generationAtKill = (await stream()).status!.placement!.generation;
    await operator.kill();
    operator = await oc.startOperator('op-b');
    const settled = await settledAt(4);
    expect(settled.status!.placement!.generation).toBeGreaterThan(generationAtKill);
    const report = await load.stop();
    for (const space of fresh) await expectAllStored(report, space);
  }, 600_000);
});
