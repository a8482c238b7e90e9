// `npm run bench:scale`: what more engine pods buy, and what forwarding costs. For 1, 2 and 3
// engines (each with the same worker count, members of one placement as the operator would push
// it), the same memory spaces are streamed to their owners (clients routing by themselves) and
// the aggregate indexed throughput is measured, then the same load sent through a pod that does
// not own the spaces (forwarded); then recall latency on the filled engines, sent to each space's
// owner (direct) and to another engine that forwards it, in the same run.
import { EngramClient, Placement, type PlacementSpec } from '@engram/engine/client';
import { ClusteredVectors } from '@engram/engine/synthetic';
import { startEngine, type EngineProcess } from '@engram/engine/testing';
import { commandLine } from './command-line.js';
import { runLoad } from './load.js';
import { median, quantile } from './quantiles.js';

const args = commandLine({
  pods: { type: 'string', default: '1,2,3' },
  workers: { type: 'string', default: '1' },
  spaces: { type: 'string', default: '12' },
  'per-space': { type: 'string', default: '1500' },
  recalls: { type: 'string', default: '600' },
  runs: { type: 'string', default: '3' },
}, {
  description: 'Aggregate indexed throughput and recall latency with 1, 2 and 3 engine pods at a fixed worker count per pod, and the cost of forwarding a recall against sending it to the owner.',
  help: {
    pods: 'engine counts to measure', workers: 'worker threads per engine', spaces: 'memory spaces (spread over the engines by the ring)',
    'per-space': 'observations per memory space', recalls: 'recalls per measurement', runs: 'runs per engine count (medians reported)',
  },
});
const DIMENSION = 768;
const PODS = args.pods.split(',').map(Number);
const WORKERS = Number(args.workers);
const SPACES = Array.from({ length: Number(args.spaces) }, (_, i) => `scale-${i}`);
const PER_SPACE = Number(args['per-space']);
const RECALLS = Number(args.recalls);
const RUNS = Number(args.runs);

interface Run {
  pods: number;
  indexedPerSecond: number;
  /** The same load sent through a pod that does not own the spaces (each forwards to the owner). */
  forwardedIndexedPerSecond: number;
  directP50: number;
  directP99: number;
  forwardedP50: number;
  forwardedP99: number;
  /** One space handed from its owner to another engine (idle): seconds to a verified copy, and snapshot bytes. */
  handoff: { seconds: number; bytes: number; vectors: number } | null;
}

async function startMembers(count: number): Promise<{ engines: EngineProcess[]; placement: Placement }> {
  const engines: EngineProcess[] = [];
  for (let i = 0; i < count; i++) {
    engines.push(await startEngine({ workers: WORKERS, 'queue.capacity': PER_SPACE * SPACES.length }, ['--member-name', `bench-${i}`]));
  }
  const spec: PlacementSpec = { generation: 1, members: engines.map((e, ordinal) => ({ ordinal, name: `bench-${ordinal}`, address: e.address })), assignments: {} };
  for (const e of engines) {
    const c = new EngramClient(e.address);
    await c.applyPlacement(spec);
    c.close();
  }
  return { engines, placement: new Placement(spec) };
}

async function recallLatencies(clients: EngramClient[], placement: Placement, query: Float32Array[], forwarded: boolean): Promise<Float64Array> {
  const out = new Float64Array(RECALLS);
  for (let i = 0; i < RECALLS; i++) {
    const space = SPACES[i % SPACES.length]!;
    const owner = placement.ownerOf(space).ordinal;
    const via = forwarded ? (owner + 1) % clients.length : owner;
    const started = performance.now();
    await clients[via]!.recall({ memorySpace: space, vector: query[i % query.length]!, k: 10 });
    out[i] = performance.now() - started;
  }
  return out;
}

/** Copies one space to the next engine and waits for the verified copy (the flip is the operator's). */
async function handOne(clients: EngramClient[], placement: Placement): Promise<Run['handoff']> {
  const space = SPACES[0]!;
  const owner = placement.ownerOf(space);
  const target = clients[(owner.ordinal + 1) % clients.length]!;
  const started = performance.now();
  await target.startImport(space, owner.address, `bench-${Date.now()}`);
  for (;;) {
    const h = (await target.handoffs()).imports.find((i) => i.memorySpace === space);
    if (h?.phase === 'failed') throw new Error(`hand-off failed: ${h.error}`);
    if (h?.phase === 'verified') return { seconds: (performance.now() - started) / 1000, bytes: h.bytes, vectors: h.count };
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function run(pods: number, vectors: Float32Array[], query: Float32Array[]): Promise<Run> {
  const { engines, placement } = await startMembers(pods);
  try {
    const ingest = async (spaces: string[], forwarded: boolean): Promise<number> => {
      const byPod = new Map<number, string[]>();
      for (const space of spaces) {
        const owner = placement.ownerOf(space).ordinal;
        const via = forwarded ? (owner + 1) % pods : owner;
        byPod.set(via, [...(byPod.get(via) ?? []), space]);
      }
      const started = performance.now();
      const loads = await Promise.all([...byPod].map(([ordinal, group]) => runLoad({
        address: engines[ordinal]!.address, spaces: group, perSpace: PER_SPACE, vectors, idPrefix: 'o', maxBatch: 256,
      })));
      return loads.reduce((n, l) => n + l.indexed, 0) / ((performance.now() - started) / 1000);
    };
    const indexedPerSecond = await ingest(SPACES, false);
    // the same load again into new spaces with the same owners as the first ones, each sent through another pod
    const twins = SPACES.map((space) => {
      const owner = placement.ownerOf(space).ordinal;
      for (let k = 0; ; k++) if (placement.ownerOf(`fwd-${space}-${k}`).ordinal === owner) return `fwd-${space}-${k}`;
    });
    const forwardedIndexedPerSecond = pods > 1 ? await ingest(twins, true) : indexedPerSecond;
    const clients = engines.map((e) => new EngramClient(e.address));
    await recallLatencies(clients, placement, query, false); // warm up
    const direct = await recallLatencies(clients, placement, query, false);
    const forwarded = pods > 1 ? await recallLatencies(clients, placement, query, true) : direct;
    const handoff = pods > 1 ? await handOne(clients, placement) : null;
    for (const c of clients) c.close();
    return {
      handoff,
      pods, indexedPerSecond, forwardedIndexedPerSecond,
      directP50: quantile(direct, 0.5), directP99: quantile(direct, 0.99), forwardedP50: quantile(forwarded, 0.5), forwardedP99: quantile(forwarded, 0.99),
    };
  } finally {
    await Promise.all(engines.map((e) => e.stop()));
  }
}

async function main(): Promise<void> {
  const vectors = new ClusteredVectors({ dimension: DIMENSION, seed: 5 }).take(SPACES.length * PER_SPACE);
  const query = new ClusteredVectors({ dimension: DIMENSION, seed: 6 }).take(200);
  console.log(`scale-out: ${SPACES.length} spaces x ${PER_SPACE} observations (${DIMENSION} dims), ${WORKERS} worker(s) per engine, ${RECALLS} recalls k=10 per measurement, ${RUNS} runs, medians`);
  const results: Run[] = [];
  for (const pods of PODS) {
    const spec = { generation: 1, members: Array.from({ length: pods }, (_, ordinal) => ({ ordinal, name: `bench-${ordinal}`, address: `x:${ordinal + 1}` })), assignments: {} };
    const placement = new Placement(spec);
    const counts = Array.from({ length: pods }, (_, o) => SPACES.filter((s) => placement.ownerOf(s).ordinal === o).length);
    console.log(`${pods} engine(s): spaces per engine ${counts.join(' / ')}`);
  }
  for (let r = 0; r < RUNS; r++) for (const pods of PODS) results.push(await run(pods, vectors, query));
  const m = (pods: number, key: Exclude<keyof Run, 'handoff'>) => median(results.filter((x) => x.pods === pods).map((x) => x[key]));
  const base = m(PODS[0]!, 'indexedPerSecond');
  console.log('| engines | indexed obs/s (aggregate, to owners) | vs 1 engine | indexed obs/s, all forwarded | forwarded / direct | recall direct p50 / p99 ms | recall forwarded p50 / p99 ms | forwarded - direct p50 / p99 ms |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const pods of PODS) {
    const rate = m(pods, 'indexedPerSecond');
    const fwdRate = m(pods, 'forwardedIndexedPerSecond');
    const ingestFwd = pods > 1 ? `${fwdRate.toFixed(0)} | ${(fwdRate / rate).toFixed(2)}` : '— | —';
    const fwd = pods > 1 ? `${m(pods, 'forwardedP50').toFixed(2)} / ${m(pods, 'forwardedP99').toFixed(2)}` : '—';
    const cost = pods > 1 ? `${(m(pods, 'forwardedP50') - m(pods, 'directP50')).toFixed(2)} / ${(m(pods, 'forwardedP99') - m(pods, 'directP99')).toFixed(2)}` : '—';
    console.log(`| ${pods} | ${rate.toFixed(0)} | ${(rate / base).toFixed(2)}x | ${ingestFwd} | ${m(pods, 'directP50').toFixed(2)} / ${m(pods, 'directP99').toFixed(2)} | ${fwd} | ${cost} |`);
  }
  reportHandoffs(results);
}

function reportHandoffs(results: Run[]): void {
  const handoffs = results.flatMap((r) => (r.handoff ? [r.handoff] : []));
  if (handoffs.length === 0) return;
  const seconds = median(handoffs.map((h) => h.seconds));
  const bytes = median(handoffs.map((h) => h.bytes));
  console.log(`hand-off of one idle space (${handoffs[0]!.vectors} vectors): ${seconds.toFixed(3)} s to a verified copy (median of ${handoffs.length}), ${(bytes / 1e6).toFixed(1)} MB of snapshot, ${(bytes / 1e6 / seconds).toFixed(1)} MB/s end to end`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
