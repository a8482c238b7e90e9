// `npm run bench -- --backend usearch --quantization f16`: an index backend beside hnswlib-node
// (the default, the baseline) in the same run, on the same data. First the libraries alone
// (raw-quantization.ts, i8 included), then three measurements of engines:
//   1. the same observations into 4 spaces on 2 workers (every core busy, nothing borrowed):
//      indexed rate, recall p50 / p99 and recall@10 against an exact search, resident bytes added
//      per vector; rounds alternate the order, medians;
//   2. one hot space on 2 workers: hnswlib unsplit and in 2 shards, against the backend inserting
//      on one thread, on borrowed idle cores (hnsw.insertThreads 0), and in 2 shards;
//   3. vectors held under a memory limit (512 MiB, memory-constrained profile) before the first
//      memory refusal.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ClusteredVectors } from '@engram/engine/synthetic';
import { processUsage, startEngine } from '@engram/engine/testing';
import { fillUntilRefused, settledVectors } from './memory-fill.js';
import { runLoad } from './load.js';
import { median } from './quantiles.js';
import { rawQuantization } from './raw-quantization.js';
import { exactNeighbours, measureRecall } from './recall-check.js';

export interface BackendBenchOptions {
  backend: string;
  quantization: string;
  quick: boolean;
  out: string;
}

const DIMENSION = 768;
const K = 10;
const MiB = 1024 * 1024;
type Kind = Record<string, unknown>;

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Filled { rate: number; p50: number; p99: number; recallAt10: number; bytesPerVector: number }

/** Measurement 1: the vectors into 4 spaces of a fresh 2-worker engine, then recalls from one. */
async function fill(kind: Kind, vectors: Float32Array[], queries: Float32Array[], truth: Array<Set<number>>): Promise<Filled> {
  const engine = await startEngine({ workers: 2, stealThreshold: 0, 'queue.capacity': 20_000, 'hnsw.insertThreads': 1, ...kind });
  try {
    await sleep(1000);
    const pid = engine.process.pid!;
    const before = processUsage(pid)!.rssBytes;
    const spaces = ['b-0', 'b-1', 'b-2', 'b-3'];
    // every space gets the same vectors: the recall check runs on b-0
    const load = await runLoad({ address: engine.address, spaces, perSpace: vectors.length, vectors: vectors.concat(vectors, vectors, vectors), idPrefix: 'v' });
    const after = processUsage(pid)!.rssBytes;
    const recall = await measureRecall(engine.client(), 'b-0', queries, truth, K);
    return { rate: load.indexed / load.indexSeconds, p50: recall.p50, p99: recall.p99, recallAt10: recall.recallAtK, bytesPerVector: (after - before) / load.indexed };
  } finally {
    await engine.stop();
  }
}

/** Measurement 2: the vectors into one space of a fresh 2-worker engine. */
async function hotSpace(kind: Kind, vectors: Float32Array[]): Promise<number> {
  const engine = await startEngine({ workers: 2, stealThreshold: 0, 'queue.capacity': 20_000, ...kind });
  try {
    const load = await runLoad({ address: engine.address, spaces: ['hot'], perSpace: vectors.length, vectors, idPrefix: 'v' });
    return load.indexed / load.indexSeconds;
  } finally {
    await engine.stop();
  }
}

/** Measurement 3: vectors held when the engine first refuses for memory. */
async function heldUnder(kind: Kind, limitBytes: number): Promise<{ held: number; seconds: number }> {
  const engine = await startEngine({ 'memory.limitBytes': limitBytes, ...kind }, ['--profile', 'memory-constrained']);
  try {
    await sleep(2000);
    const filled = await fillUntilRefused(engine, Array.from({ length: 8 }, (_, i) => `m-${i}`), DIMENSION);
    return { held: await settledVectors(engine), seconds: filled.seconds };
  } finally {
    await engine.stop();
  }
}

export async function benchBackends(o: BackendBenchOptions): Promise<void> {
  const sizes = o.quick ? { count: 1500, queries: 40, rounds: 1, limitMiB: 160 } : { count: 20_000, queries: 200, rounds: 3, limitMiB: 512 };
  const baseline: Kind = { 'hnsw.backend': 'hnswlib', 'hnsw.quantization': 'f32' };
  const other: Kind = { 'hnsw.backend': o.backend, 'hnsw.quantization': o.quantization };
  const name = (k: Kind) => `${String(k['hnsw.backend'])} ${String(k['hnsw.quantization'])}`;
  const source = new ClusteredVectors({ dimension: DIMENSION, seed: 29 });
  const vectors = source.take(sizes.count);
  const queries = source.take(sizes.queries);
  const truth = exactNeighbours(vectors, queries, K);
  console.log(`index backends: ${name(other)} beside ${name(baseline)}, ${DIMENSION} dims, M 16 / efConstruction 200 / ef 64 (balanced), 2 workers, ${sizes.rounds} round(s)${o.quick ? ' (--quick: figures not comparable)' : ''}`);

  const raw = rawQuantization(vectors, queries, truth);
  console.log(`\n0. the libraries alone, one thread, ${sizes.count} vectors (usearch through its own npm binding), k = 10 against an exact search:`);
  console.log('| index | inserts/s | search p50 / p99 ms | recall@10 |\n|---|---|---|---|');
  for (const r of raw) console.log(`| ${r.index} | ${fmt(r.insertsPerSecond)} | ${fmt(r.p50, 3)} / ${fmt(r.p99, 3)} | ${fmt(r.recallAt10, 4)} |`);

  const rounds: Array<Map<string, Filled>> = [];
  for (let r = 0; r < sizes.rounds; r++) {
    const round = new Map<string, Filled>();
    for (const kind of r % 2 === 0 ? [baseline, other] : [other, baseline]) round.set(name(kind), await fill(kind, vectors, queries, truth));
    rounds.push(round);
  }
  const med = (kind: Kind, key: keyof Filled) => median(rounds.map((r) => r.get(name(kind))![key]));
  const ratio = (key: keyof Filled) => median(rounds.map((r) => r.get(name(other))![key] / r.get(name(baseline))![key]));
  console.log(`\n1. ${sizes.count} observations into each of 4 spaces (both workers busy, no core borrowed); recalls from one space, k = 10, checked against an exact search (medians):`);
  console.log('| backend | indexed obs/s | recall p50 / p99 ms | recall@10 | resident bytes added per vector |\n|---|---|---|---|---|');
  for (const kind of [baseline, other]) {
    console.log(`| ${name(kind)} | ${fmt(med(kind, 'rate'))} | ${fmt(med(kind, 'p50'), 2)} / ${fmt(med(kind, 'p99'), 2)} | ${fmt(med(kind, 'recallAt10'), 4)} | ${fmt(med(kind, 'bytesPerVector'))} |`);
  }
  console.log(`${name(other)} / ${name(baseline)} (median of per-round ratios): indexed ${fmt(ratio('rate'), 2)}x, recall p50 ${fmt(ratio('p50'), 2)}x, bytes per vector ${fmt(ratio('bytesPerVector'), 2)}x`);

  const hotKinds: Array<[string, Kind]> = [
    [`${name(baseline)}, 1 shard`, { ...baseline, 'hnsw.shards': 1 }],
    [`${name(baseline)}, 2 shards`, { ...baseline, 'hnsw.shards': 2 }],
    [`${name(other)}, 1 shard, 1 insert thread`, { ...other, 'hnsw.insertThreads': 1 }],
    [`${name(other)}, 1 shard, idle cores borrowed`, { ...other, 'hnsw.insertThreads': 0 }],
    [`${name(other)}, 2 shards`, { ...other, 'hnsw.shards': 2, 'hnsw.insertThreads': 1 }],
  ];
  const hot = new Map<string, number[]>(hotKinds.map(([label]) => [label, []]));
  for (let r = 0; r < sizes.rounds; r++) {
    for (const [label, kind] of r % 2 === 0 ? hotKinds : [...hotKinds].reverse()) hot.get(label)!.push(await hotSpace(kind, vectors));
  }
  const hotBase = hot.get(hotKinds[0]![0])!;
  console.log(`\n2. one hot space of ${sizes.count} observations on 2 workers (medians; ratio: median of per-round ratios to the first row):`);
  console.log('| index | indexed obs/s | vs the first row |\n|---|---|---|');
  for (const [label] of hotKinds) {
    const rates = hot.get(label)!;
    console.log(`| ${label} | ${fmt(median(rates))} | ${fmt(median(rates.map((x, i) => x / hotBase[i]!)), 2)}x |`);
  }

  const limitBytes = sizes.limitMiB * MiB;
  const held = new Map<string, { held: number; seconds: number }>();
  for (const kind of [baseline, other]) held.set(name(kind), await heldUnder(kind, limitBytes));
  console.log(`\n3. vectors held under a ${sizes.limitMiB} MiB limit (memory-constrained profile: M 8, 2 workers, 8 spaces) at the first memory refusal:`);
  console.log('| backend | vectors held | filled in s |\n|---|---|---|');
  for (const [label, h] of held) console.log(`| ${label} | ${h.held} | ${fmt(h.seconds)} |`);
  const f16Held = held.get(name(other))!.held;
  if (!o.quick && sizes.limitMiB === 512 && o.quantization === 'f16') console.log(`target with f16: >= 200,000 vectors at 768 dims under 512 MiB: ${f16Held} (${f16Held >= 200_000 ? 'met' : 'not met'})`);

  mkdirSync(dirname(o.out), { recursive: true });
  writeFileSync(o.out, JSON.stringify({
    date: new Date().toISOString(), backend: o.backend, quantization: o.quantization, sizes, raw,
    rounds: rounds.map((r) => Object.fromEntries(r)), hot: Object.fromEntries(hot), held: Object.fromEntries(held),
  }, null, 2));
  console.log(`\nresults written to ${o.out}`);
}
