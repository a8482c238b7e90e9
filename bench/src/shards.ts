// `npm run bench:shards`: what splitting one hot memory space into shards buys. One engine (two
// workers by default), one space per shard count, each filled with the same observations from one
// stream: indexed rate, then recall p50 / p99 and recall@10 against an exact search, per count.
// Counts are taken in a different order each round; medians over rounds, ratios against S = 1.
import { writeFileSync } from 'node:fs';
import { EngramClient } from '@engram/engine/client';
import { ClusteredVectors } from '@engram/engine/synthetic';
import { startEngine } from '@engram/engine/testing';
import { commandLine } from './command-line.js';
import { median } from './quantiles.js';
import { runLoad } from './load.js';
import { exactNeighbours, measureRecall } from './recall-check.js';

const args = commandLine({
  observations: { type: 'string', default: '40000' },
  shards: { type: 'string', default: '1,2,4' },
  workers: { type: 'string', default: '2' },
  rounds: { type: 'string', default: '3' },
  queries: { type: 'string', default: '200' },
  dimension: { type: 'string', default: '768' },
  skewed: { type: 'string', default: '60000' },
  'skewed-rate': { type: 'string', default: '2500' },
  out: { type: 'string' },
}, {
  description: 'One hot memory space split into S shards on one engine: indexed rate, recall latency and recall@10 for each S, medians over rounds.',
  help: {
    observations: 'observations streamed into each space', shards: 'shard counts to compare (comma-separated; the first is the baseline)',
    workers: 'worker threads of the engine', rounds: 'rounds (each on a fresh engine, counts in a rotated order); 0 runs the skewed load only',
    queries: 'recalls per space (k = 10), each checked against an exact search', dimension: 'vector dimension', out: 'write the results as JSON here',
    skewed: 'observations of the skewed load (90% to one space, 10% to another) under automatic splitting; 0 skips it',
    'skewed-rate': 'observations/s offered by the skewed load (more than one worker indexes)',
  },
});
const COUNT = Number(args.observations);
const SHARDS = args.shards.split(',').map(Number);
const WORKERS = Number(args.workers);
const ROUNDS = Number(args.rounds);
const QUERIES = Number(args.queries);
const DIMENSION = Number(args.dimension);
const K = 10;
const overrides: Array<{ spaces: string; shards: number }> = [];

interface Measured {
  shards: number;
  indexed: number;
  rate: number;
  recallP50: number;
  recallP99: number;
  recallAt10: number;
}

async function main(): Promise<void> {
  const source = new ClusteredVectors({ dimension: DIMENSION, seed: 23 });
  const vectors = source.take(COUNT);
  const queries = source.take(QUERIES);
  if (ROUNDS === 0) {
    const skewed = await skewedLoad(Number(args.skewed), Number(args['skewed-rate']));
    if (args.out) writeFileSync(args.out, JSON.stringify({ skewed }, null, 2));
    return;
  }
  const truth = exactNeighbours(vectors, queries, K);
  console.log(`shards: one space of ${COUNT} observations (${DIMENSION} dims) per shard count, ${WORKERS} workers, ${ROUNDS} rounds`);
  const rounds: Measured[][] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const order = SHARDS.map((_, i) => SHARDS[(i + r) % SHARDS.length] as number);
    const engine = await startEngine({ workers: WORKERS, stealThreshold: 0, 'queue.capacity': 20_000, 'hnsw.dimension': DIMENSION });
    const client = engine.client();
    try {
      const round: Measured[] = [];
      for (const shards of order) round.push(await measure(client, engine.address, shards, r, vectors, queries, truth));
      rounds.push(round);
    } finally {
      await engine.stop();
    }
  }
  const rows = SHARDS.map((shards) => {
    const of = rounds.map((round) => round.find((m) => m.shards === shards) as Measured);
    return {
      shards,
      rate: median(of.map((m) => m.rate)),
      recallP50: median(of.map((m) => m.recallP50)),
      recallP99: median(of.map((m) => m.recallP99)),
      recallAt10: median(of.map((m) => m.recallAt10)),
      indexed: of.map((m) => m.indexed),
    };
  });
  const base = rows[0]!;
  const ratioOf = (shards: number) => median(rounds.map((round) => round.find((m) => m.shards === shards)!.rate / round.find((m) => m.shards === base.shards)!.rate));
  console.log(`| shards | indexed obs/s (median) | vs S = ${base.shards} (median of per-round ratios) | recall p50 / p99 ms | recall@10 vs exact | change from S = ${base.shards} |`);
  console.log('|---|---|---|---|---|---|');
  for (const row of rows) {
    console.log(`| ${row.shards} | ${row.rate.toFixed(0)} | ${ratioOf(row.shards).toFixed(2)}x | ${row.recallP50.toFixed(2)} / ${row.recallP99.toFixed(2)} | ${row.recallAt10.toFixed(4)} | ${(row.recallAt10 - base.recallAt10).toFixed(4)} |`);
  }
  const two = rows.find((r) => r.shards === 2);
  if (two && base.shards === 1) console.log(`target: S = 2 at least 1.7x S = 1 with 2 workers: ${ratioOf(2).toFixed(2)}x (${ratioOf(2) >= 1.7 ? 'met' : 'not met'}); recall@10 within 0.01 of S = 1: ${rows.every((r) => base.recallAt10 - r.recallAt10 <= 0.01) ? 'met' : 'not met'}`);
  const skewed = Number(args.skewed) > 0 ? await skewedLoad(Number(args.skewed), Number(args['skewed-rate'])) : null;
  if (args.out) writeFileSync(args.out, JSON.stringify({ observations: COUNT, workers: WORKERS, rounds, rows: rows.map((r) => ({ ...r, ratio: ratioOf(r.shards) })), skewed }, null, 2));
}

interface Sample {
  at: number;
  indexed: number;
  utilization: number[];
  hotShards: number;
}

/**
 * 90% of the writes to one space, 10% to another, offered faster than one worker indexes, with
 * automatic splitting on: per-worker utilisation and the indexed rate before and after the hot
 * space is split.
 */
async function skewedLoad(total: number, rate: number) {
  const engine = await startEngine({
    workers: WORKERS, 'queue.capacity': 20_000, 'hnsw.dimension': DIMENSION, 'hnsw.autoSplit.backlog': 2000, 'hnsw.autoSplit.maxShards': WORKERS,
  });
  const client = engine.client();
  const vectors = new ClusteredVectors({ dimension: DIMENSION, seed: 29 }).take(Math.min(total, 20_000));
  const samples: Sample[] = [];
  let loading = true;
  const started = performance.now();
  const sampler = (async () => {
    while (loading) {
      const stats = await client.stats();
      samples.push({
        at: (performance.now() - started) / 1000,
        indexed: Number(stats.observationsIndexed),
        utilization: stats.workers.map((w) => w.utilization),
        hotShards: stats.spaces.find((s) => s.memorySpace === 'skew-hot')?.shards.length ?? 1,
      });
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  const hot = Math.round(total * 0.9);
  await Promise.all([
    runLoad({ address: engine.address, spaces: ['skew-hot'], perSpace: hot, vectors, idPrefix: 'h', rate: rate * 0.9, maxBatch: 256 }),
    runLoad({ address: engine.address, spaces: ['skew-cold'], perSpace: total - hot, vectors, idPrefix: 'c', rate: rate * 0.1, maxBatch: 256 }),
  ]);
  loading = false;
  await sampler;
  await engine.stop();
  const split = samples.find((s) => s.hotShards > 1)?.at ?? null;
  const phase = (from: number, to: number) => {
    const inPhase = samples.filter((s) => s.at >= from && s.at <= to);
    if (inPhase.length < 2) return null;
    const first = inPhase[0]!;
    const last = inPhase[inPhase.length - 1]!;
    const utilization = first.utilization.map((_, w) => median(inPhase.map((s) => s.utilization[w] ?? 0)));
    return { seconds: last.at - first.at, indexedPerSecond: (last.indexed - first.indexed) / (last.at - first.at), utilization };
  };
  const end = samples[samples.length - 1]?.at ?? 0;
  // A few seconds after the switch: the catch-up and the queue built meanwhile are behind it.
  const before = phase(1, split ?? end);
  const after = split === null ? null : phase(split + 3, end);
  console.log(`\nskewed load: ${total} observations offered at ${rate}/s, 90% to skew-hot, 10% to skew-cold; hnsw.autoSplit { backlog: 2000, maxShards: ${WORKERS} }`);
  console.log(split === null ? 'skew-hot was not split' : `skew-hot split into ${samples.find((s) => s.hotShards > 1)!.hotShards} shards at ${split.toFixed(1)} s`);
  console.log('| phase | seconds | indexed obs/s | worker utilisation (median of samples) |');
  console.log('|---|---|---|---|');
  for (const [name, p] of [['before the split', before], ['after the split (from 3 s after it)', after]] as const) {
    if (p) console.log(`| ${name} | ${p.seconds.toFixed(1)} | ${p.indexedPerSecond.toFixed(0)} | ${p.utilization.map((u) => u.toFixed(2)).join(' / ')} |`);
  }
  return { split, before, after, samples };
}

/** Streams the vectors into a new space of `shards` shards; then recalls and checks each answer. */
async function measure(client: EngramClient, address: string, shards: number, round: number, vectors: Float32Array[], queries: Float32Array[], truth: Array<Set<number>>): Promise<Measured> {
  // Each space gets its count by an override (the list keeps the earlier ones: a space whose count
  // changed would be resharded in the background, and measured against its neighbours' work).
  const space = `shards-${shards}-r${round}`;
  overrides.push({ spaces: space, shards });
  await client.applyConfig({ hnsw: { shardOverrides: overrides } });
  const load = await runLoad({ address, spaces: [space], perSpace: vectors.length, vectors, idPrefix: 'v', maxBatch: 256 });
  const stats = await client.stats();
  const layout = stats.spaces.find((s) => s.memorySpace === space)?.shards.length;
  if (layout !== shards) throw new Error(`space ${space} has ${layout} shards, not ${shards}`);
  const recall = await measureRecall(client, space, queries, truth, K);
  return { shards, indexed: load.indexed, rate: load.indexed / load.indexSeconds, recallP50: recall.p50, recallP99: recall.p99, recallAt10: recall.recallAtK };
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
