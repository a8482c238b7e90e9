// `npm run bench`: for each of the guide's five profiles, stream clustered 768-dimension
// observations into a real engine and print the guide's table (ack latency, throughput, CPU, RSS)
// plus indexed throughput and recall latency at 80% load, beside the raw hnswlib-node addPoint
// rate on the same data measured in the same run. Then an accepted-ingest burst, and the targets
// beside what this run measured.
import { availableParallelism } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { PROFILES, PROFILE_NAMES, type ProfileName } from '@engram/engine/config';
import { ClusteredVectors } from '@engram/engine/synthetic';
import { processUsage, startEngine, threadUsage } from '@engram/engine/testing';
import { benchBackends } from './backends.js';
import { commandLine } from './command-line.js';
import { histogramQuantiles, quantile } from './quantiles.js';
import { rawInsertRate, rawParallelRate } from './raw-hnsw.js';
import { recallWhile, runLoad } from './load.js';
import { printTargets, targetRows } from './targets.js';

const DIMENSION = 768;
const args = commandLine({
  observations: { type: 'string' },
  spaces: { type: 'string' },
  profiles: { type: 'string' },
  burst: { type: 'string' },
  quick: { type: 'boolean', default: false },
  out: { type: 'string', default: 'bench/results/profiles.json' },
  set: { type: 'string', multiple: true, default: [] },
  backend: { type: 'string' },
  quantization: { type: 'string', default: 'f32' },
}, {
  description: "The guide's table for each profile: ack latency, throughput, CPU, RSS, recall under load, beside raw hnswlib-node.",
  help: {
    observations: 'observations streamed per profile (16000; --quick 2000)', spaces: 'memory spaces they are spread over (8; --quick 4)',
    profiles: 'comma-separated profiles to run (all five; --quick balanced,memory-constrained)',
    burst: 'observations in the accepted-ingest burst (80000; --quick 5000)',
    quick: 'a smoke run in well under a minute (CI runs it so the benchmark never rots): small sizes, figures not comparable',
    out: 'where the JSON results go', set: 'key=value engine override (repeatable)',
    backend: 'compare this index backend (usearch) with hnswlib instead of running the profiles (see backends.ts)',
    quantization: 'with --backend: the precision it stores vectors at (f32, f16)',
  },
});
/** Sizes of a full run, and of a `--quick` one; a flag given on the command line wins over both. */
const SIZES = args.quick
  ? { observations: '2000', spaces: '4', profiles: 'balanced,memory-constrained', burst: '5000', rawSample: 1000, pacedSeconds: 2 }
  : { observations: '16000', spaces: '8', profiles: PROFILE_NAMES.join(','), burst: '80000', rawSample: 6000, pacedSeconds: 5 };
/** `--set key=value` overrides passed to every engine, after its profile. */
const overrides = args.set.flatMap((a) => ['--set', a]);
const workersOverride = Number(args.set.find((a) => a.startsWith('workers='))?.slice('workers='.length) ?? 0);
const observations = Number(args.observations ?? SIZES.observations);
const spaceCount = Number(args.spaces ?? SIZES.spaces);
const profiles = (args.profiles ?? SIZES.profiles).split(',') as ProfileName[];
const unknownProfiles = profiles.filter((p) => !(PROFILE_NAMES as readonly string[]).includes(p));
if (unknownProfiles.length > 0) {
  console.error(`unknown profile ${unknownProfiles.join(', ')}: the profiles are ${PROFILE_NAMES.join(', ')}`);
  process.exit(2);
}
const cores = availableParallelism();

function concat(vectors: Float32Array[]): Float32Array {
  const out = new Float32Array(vectors.length * DIMENSION);
  vectors.forEach((v, i) => out.set(v, i * DIMENSION));
  return out;
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

async function rawBaselines(vectors: Float32Array[]) {
  const sample = concat(vectors.slice(0, SIZES.rawSample));
  const shapes = [{ m: 16, efConstruction: 200 }, { m: 8, efConstruction: 100 }];
  const out = new Map<string, { single: number; parallel: number }>();
  for (const { m, efConstruction } of shapes) {
    const single = rawInsertRate(sample, DIMENSION, m, efConstruction);
    const parallel = await rawParallelRate(concat(vectors.slice(0, SIZES.rawSample * cores)), DIMENSION, cores, m, efConstruction);
    out.set(`${m}/${efConstruction}`, { single, parallel });
    console.log(`raw hnswlib-node addPoint, M=${m} efC=${efConstruction}: ${fmt(single)} inserts/s on 1 thread, ${fmt(parallel)}/s on ${cores} threads (${fmt(parallel / single, 2)}x)`);
  }
  return out;
}

async function benchProfile(profile: ProfileName, vectors: Float32Array[], raw: Map<string, { single: number; parallel: number }>) {
  const preset = { ...PROFILES[profile], ...(workersOverride ? { workers: workersOverride } : {}) };
  const hnsw = preset.hnsw ?? { m: 16, efConstruction: 200 };
  const engine = await startEngine({}, ['--profile', profile, ...overrides]);
  const pid = engine.process.pid!;
  const spaces = Array.from({ length: spaceCount }, (_, i) => `bench-${i}`);
  const u0 = processUsage(pid)!;
  const threads0 = threadUsage(pid);
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  const load = await runLoad({ address: engine.address, spaces, perSpace: Math.floor(observations / spaceCount), vectors, idPrefix: 'a' });
  const wall = (performance.now() - t0) / 1000;
  const u1 = processUsage(pid)!;
  const threads1 = threadUsage(pid);
  const client = process.cpuUsage(client0);
  const stolen = [...(await engine.metrics()).matchAll(/^engram_streaming_work_stolen_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  const indexedRate = load.indexed / load.indexSeconds;

  // Recall latency with nothing else running: the recall path itself.
  const idleRecalls = await recallWhile(engine.address, spaces, vectors, new Promise((r) => setTimeout(r, 1500)), 2);

  // Recall latency (on the spaces just filled) while ingest runs at 80% of the indexed rate just
  // measured, into fresh spaces so inserts cost what they cost in the measurement above.
  const paced = 0.8 * indexedRate;
  const pacedSpaces = spaces.map((s) => `paced-${s}`);
  const pacedLoad = runLoad({ address: engine.address, spaces: pacedSpaces, perSpace: Math.max(50, Math.floor((paced * SIZES.pacedSeconds) / spaceCount)), vectors, idPrefix: 'b', rate: paced });
  const recalls = await recallWhile(engine.address, spaces, vectors, pacedLoad, 5);
  const pacedResult = await pacedLoad;
  const u2 = processUsage(pid)!;
  const engineRecall = histogramQuantiles(await engine.metrics(), 'engram_streaming_recall_latency_seconds');
  await engine.stop();

  const shape = raw.get(`${hnsw.m}/${hnsw.efConstruction}`)!;
  const parallelism = Math.min(preset.workers, cores);
  const workerSeconds = threads1.indexWorkers - threads0.indexWorkers;
  return {
    profile, workers: preset.workers, batch: `${preset.batch.min}-${preset.batch.max}`, capacity: preset.queue.capacity,
    hnsw: `M${hnsw.m}/efC${hnsw.efConstruction}`,
    accepted: load.accepted, indexed: load.indexed, refused: load.refused, stolen,
    ackP50: quantile(load.acceptLatencyMs, 0.5), ackP99: quantile(load.acceptLatencyMs, 0.99),
    indexedP50: quantile(load.indexLatencyMs, 0.5), indexedP99: quantile(load.indexLatencyMs, 0.99),
    acceptedRate: load.accepted / load.acceptSeconds,
    indexedRate,
    cpuPercent: (100 * (u1.cpuSeconds - u0.cpuSeconds)) / wall,
    peakRssMb: u2.peakRssBytes / 2 ** 20,
    idleRecallP50: quantile(idleRecalls, 0.5), idleRecallP99: quantile(idleRecalls, 0.99),
    recallP50: quantile(recalls, 0.5), recallP99: quantile(recalls, 0.99), recalls: recalls.length,
    engineRecallP50: engineRecall.p50 * 1000, engineRecallP99: engineRecall.p99 * 1000,
    pacedAckP50: quantile(pacedResult.acceptLatencyMs, 0.5), pacedAckP99: quantile(pacedResult.acceptLatencyMs, 0.99),
    pacedIndexedP50: quantile(pacedResult.indexLatencyMs, 0.5), pacedIndexedP99: quantile(pacedResult.indexLatencyMs, 0.99),
    pacedRate: pacedResult.indexed / pacedResult.indexSeconds, pacedTarget: paced,
    rawSingle: shape.single, rawParallel: shape.parallel,
    vsRawTimesWorkers: indexedRate / (shape.single * parallelism),
    vsRawParallel: indexedRate / shape.parallel,
    // Where the cores went while the engine filled: the index workers' CPU as a share of the cores
    // the raw baseline had (min(workers, cores) for the whole phase), how much the workers indexed
    // per CPU second against raw hnswlib in one thread, and what everything else took (in cores).
    workerShare: workerSeconds / (wall * parallelism),
    indexedPerWorkerSecondVsRaw: workerSeconds > 0 ? load.indexed / workerSeconds / shape.single : 0,
    mainThreadCores: (threads1.main - threads0.main) / wall,
    otherThreadCores: (threads1.other - threads0.other) / wall,
    loadGeneratorCores: (client.user + client.system) / 1e6 / wall,
  };
}

async function acceptBurst(vectors: Float32Array[], count: number) {
  const engine = await startEngine({ 'queue.capacity': Math.ceil(count * 1.3) }, ['--profile', 'high-throughput']);
  const spaces = Array.from({ length: spaceCount }, (_, i) => `burst-${i}`);
  const load = await runLoad({
    address: engine.address, spaces, perSpace: Math.floor(count / spaceCount), vectors, idPrefix: 'burst',
    maxBatch: 512, maxInFlight: 4096, honoursBackpressure: false, drain: false,
  });
  await engine.stop('SIGKILL');
  return { accepted: load.accepted, seconds: load.acceptSeconds, rate: load.accepted / load.acceptSeconds, ackP50: quantile(load.acceptLatencyMs, 0.5), ackP99: quantile(load.acceptLatencyMs, 0.99) };
}

async function main(): Promise<void> {
  if (args.backend) {
    const out = args.out === 'bench/results/profiles.json' ? 'bench/results/backends.json' : args.out;
    return benchBackends({ backend: args.backend, quantization: args.quantization, quick: args.quick, out });
  }
  console.log(`Engram Stream profile benchmark: ${observations} observations x ${DIMENSION} dims per profile over ${spaceCount} memory spaces; ${cores} cores; node ${process.version}${args.set.length ? `; overrides ${args.set.join(' ')}` : ''}`);
  const vectors = new ClusteredVectors({ dimension: DIMENSION, seed: 7, clusters: 64 }).take(Math.max(observations, SIZES.rawSample * cores));
  const raw = await rawBaselines(vectors);
  const rows = [];
  for (const profile of profiles) {
    const row = await benchProfile(profile, vectors, raw);
    rows.push(row);
    console.log(`${profile}: done`);
  }
  console.log('\nAt saturation (clients send as fast as the engine accepts; latency is mostly waiting in the client window):');
  console.log('| profile | workers | batch | ack p50 / p99 ms | accepted obs/s | indexed obs/s | indexed / (raw 1-thread x min(workers, cores)) | indexed / raw parallel | CPU % (100 = 1 core) | peak RSS MB | refused (resent) | spaces stolen |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.profile} | ${r.workers} | ${r.batch} | ${fmt(r.ackP50, 1)} / ${fmt(r.ackP99, 1)} | ${fmt(r.acceptedRate)} | ${fmt(r.indexedRate)} | ${fmt(r.vsRawTimesWorkers, 2)} | ${fmt(r.vsRawParallel, 2)} | ${fmt(r.cpuPercent)} | ${fmt(r.peakRssMb)} | ${r.refused} | ${r.stolen} |`);
  }
  console.log('\nWhere the cores went at saturation: the index workers\' CPU as a share of min(workers, cores) for the phase, what they indexed per CPU second against raw hnswlib in one thread, and the rest in cores (the load generator is this process):');
  console.log('| profile | workers\' share of the baseline\'s cores | indexed per worker CPU second / raw 1-thread | engine main thread (cores) | engine other threads (cores) | load generator (cores) |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.profile} | ${fmt(r.workerShare, 2)} | ${fmt(r.indexedPerWorkerSecondVsRaw, 2)} | ${fmt(r.mainThreadCores, 2)} | ${fmt(r.otherThreadCores, 2)} | ${fmt(r.loadGeneratorCores, 2)} |`);
  }
  console.log('\nAt 80% of the indexed rate above, with a recall every 5 ms (client-side latency; engine-side from its histogram, bucket bounds):');
  console.log('| profile | offered obs/s | indexed obs/s | ack p50 / p99 ms | indexed p50 / p99 ms | recall p50 / p99 ms (client) | recall p50 / p99 ms (engine) | recalls | recall p50 / p99 ms with no ingest |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.profile} | ${fmt(r.pacedTarget)} | ${fmt(r.pacedRate)} | ${fmt(r.pacedAckP50, 1)} / ${fmt(r.pacedAckP99, 1)} | ${fmt(r.pacedIndexedP50)} / ${fmt(r.pacedIndexedP99)} | ${fmt(r.recallP50, 2)} / ${fmt(r.recallP99, 2)} | ≤ ${fmt(r.engineRecallP50, 2)} / ≤ ${fmt(r.engineRecallP99, 2)} | ${r.recalls} | ${fmt(r.idleRecallP50, 2)} / ${fmt(r.idleRecallP99, 2)} |`);
  }
  const burstCount = Number(args.burst ?? SIZES.burst);
  let burst = null;
  if (burstCount > 0) {
    burst = await acceptBurst(vectors, burstCount);
    console.log(`\naccepted-ingest burst (high-throughput profile, ${burst.accepted} observations, indexing behind): ${fmt(burst.rate)} obs/s accepted; ack p50 ${fmt(burst.ackP50, 1)} ms, p99 ${fmt(burst.ackP99, 1)} ms`);
  }
  const targets = targetRows(rows, burst);
  printTargets(targets);
  mkdirSync(new URL('.', `file://${process.cwd()}/${args.out}`), { recursive: true });
  writeFileSync(args.out, JSON.stringify({ date: new Date().toISOString(), cores, node: process.version, observations, raw: Object.fromEntries(raw), rows, burst, targets }, null, 2));
  console.log(`\nresults written to ${args.out}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
