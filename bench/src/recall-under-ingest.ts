// `npm run bench:recall-under-ingest`: recall latency and freshness while ingest runs. One engine
// (balanced profile) holds four preloaded spaces; a load generator in its own process streams into
// other spaces at 50% and 80% of the indexed capacity measured first, once at normal priority and
// once at nice 19, while this process recalls from the preloaded spaces at a steady pace. Printed
// per phase: recall p50 / p99 from the client and recall@10 against an exact search of the same
// data, and freshness: send to INDEXED p50 / p99 as the load generator saw it. Targets (issue 18):
// recall p99 at most 5 ms at 80% of capacity, INDEXED p99 at most 50 ms at 50%.
import { fork } from 'node:child_process';
import { setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { EngramClient } from '@engram/engine/client';
import { ClusteredVectors } from '@engram/engine/synthetic';
import { processUsage, startEngine } from '@engram/engine/testing';
import { commandLine } from './command-line.js';
import { runLoad } from './load.js';
import { quantile } from './quantiles.js';

const DIMENSION = 768;
const SPACES = 4;
const LOAD_SPACES = 4;

/** What the load generator process is asked to do, and what it reports. */
interface LoadJob { address: string; prefix: string; rate: number; seconds: number; nice: number }
interface LoadReport { indexed: number; indexedRate: number; indexedP50: number; indexedP99: number; cpuSeconds: number }

if (process.env.ENGRAM_LOAD_JOB) void loadGenerator(JSON.parse(process.env.ENGRAM_LOAD_JOB) as LoadJob);
else {
  const args = commandLine({
    profile: { type: 'string', default: 'balanced' }, preload: { type: 'string', default: '5000' },
    'phase-seconds': { type: 'string', default: '10' }, 'recalls-per-second': { type: 'string', default: '100' },
  }, {
    description: 'Recall latency and quality, and send-to-INDEXED freshness, while a load generator in another process (normal priority, then nice 19) streams at 50% and 80% of the indexed capacity.',
    help: {
      profile: 'engine profile', preload: 'vectors in each of the 4 recalled spaces', 'phase-seconds': 'length of each load phase',
      'recalls-per-second': 'recall pace from this process',
    },
  });
  main(args.profile, Number(args.preload), Number(args['phase-seconds']), Number(args['recalls-per-second'])).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}

async function main(profile: string, preload: number, phaseSeconds: number, recallsPerSecond: number): Promise<void> {
  const engine = await startEngine({ 'hnsw.dimension': DIMENSION }, ['--profile', profile]);
  const client = new EngramClient(engine.address);
  try {
    const stored = await preloadSpaces(client, preload);
    const queries = new ClusteredVectors({ dimension: DIMENSION, seed: 5 }).take(200);
    const truth = queries.map((q, i) => exactTop10(stored[i % SPACES]!, q));
    const capacity = await runChild({ address: engine.address, prefix: 'capacity', rate: 0, seconds: 8, nice: 0 });
    console.log(`recall under ingest: ${profile} profile, ${SPACES} spaces of ${preload} vectors recalled at ${recallsPerSecond}/s (k 10); load generator in its own process into ${LOAD_SPACES} other spaces; indexed capacity ${capacity.indexedRate.toFixed(0)} obs/s (measured first, load generator at normal priority)`);
    console.log('| phase | load generator | offered obs/s | indexed obs/s | INDEXED p50 / p99 ms | recall p50 / p99 ms | recall@10 | recalls | engine CPU cores |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    const phases: Array<{ share: number; nice: number }> = [{ share: 0, nice: 0 }];
    for (const nice of [0, 19]) for (const share of [0.5, 0.8]) phases.push({ share, nice });
    for (const [n, { share, nice }] of phases.entries()) {
      const rate = share * capacity.indexedRate;
      const cpuBefore = processUsage(engine.process.pid!)?.cpuSeconds ?? 0;
      const started = performance.now();
      const load = share > 0 ? runChild({ address: engine.address, prefix: `load-${n}`, rate, seconds: phaseSeconds, nice }) : sleep(phaseSeconds * 1000).then(() => null);
      const recalls = await recallUntil(client, queries, truth, load, recallsPerSecond);
      const report = await load;
      const cores = ((processUsage(engine.process.pid!)?.cpuSeconds ?? 0) - cpuBefore) / ((performance.now() - started) / 1000);
      console.log(`| ${n + 1} | ${share === 0 ? 'idle' : nice === 0 ? 'normal priority' : 'nice 19'} | ${share === 0 ? '-' : `${rate.toFixed(0)} (${share * 100}%)`} | ${report ? report.indexedRate.toFixed(0) : '-'} | ${report ? `${report.indexedP50.toFixed(1)} / ${report.indexedP99.toFixed(1)}` : '-'} | ${quantile(recalls.ms, 0.5).toFixed(2)} / ${quantile(recalls.ms, 0.99).toFixed(2)} | ${recalls.quality.toFixed(3)} | ${recalls.ms.length} | ${cores.toFixed(2)} |`);
    }
    console.log('targets: recall p99 at most 5 ms at 80% of capacity; INDEXED p99 at most 50 ms at 50%; recall@10 at least 0.98');
  } finally {
    client.close();
    await engine.stop();
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Fills the recalled spaces; returns each space's vectors (normalised, for the exact search) by id. */
async function preloadSpaces(client: EngramClient, perSpace: number): Promise<Array<Map<string, Float32Array>>> {
  const vectors = new ClusteredVectors({ dimension: DIMENSION, seed: 5 });
  return Promise.all(Array.from({ length: SPACES }, async (_, s) => {
    const stream = await client.openStream({ memorySpace: `recalled-${s}` });
    const stored = new Map<string, Float32Array>();
    for (let i = 0; i < perSpace; i++) {
      const v = vectors.next();
      stored.set(`r-${i}`, normalised(v));
      await stream.send({ id: `r-${i}`, embedding: v });
    }
    await stream.close({ drain: true });
    return stored;
  }));
}

function normalised(v: Float32Array): Float32Array {
  const norm = Math.sqrt(v.reduce((sum, x) => sum + x * x, 0)) || 1;
  return v.map((x) => x / norm);
}

/** The ids of the 10 nearest by cosine similarity (the engine's default metric). */
function exactTop10(stored: Map<string, Float32Array>, query: Float32Array): Set<string> {
  const q = normalised(query);
  const scored: Array<[string, number]> = [];
  for (const [id, v] of stored) {
    let dot = 0;
    for (let i = 0; i < DIMENSION; i++) dot += v[i]! * q[i]!;
    scored.push([id, dot]);
  }
  return new Set(scored.sort((a, b) => b[1] - a[1]).slice(0, 10).map(([id]) => id));
}

/** Recalls at `perSecond` until `until` settles; latencies and the share of exact neighbours found. */
async function recallUntil(client: EngramClient, queries: Float32Array[], truth: Array<Set<string>>, until: Promise<unknown>, perSecond: number) {
  let done = false;
  void until.finally(() => { done = true; });
  const ms: number[] = [];
  let found = 0;
  let expected = 0;
  const started = performance.now();
  for (let n = 0; !done; n++) {
    const wait = started + (n * 1000) / perSecond - performance.now();
    if (wait > 0) await sleep(wait);
    const q = n % queries.length;
    const sent = performance.now();
    const reply = await client.recall({ memorySpace: `recalled-${q % SPACES}`, vector: queries[q]!, k: 10 });
    ms.push(performance.now() - sent);
    found += reply.hits.filter((h) => truth[q]!.has(h.id)).length;
    expected += 10;
  }
  return { ms, quality: found / Math.max(1, expected) };
}

function runChild(job: LoadJob): Promise<LoadReport> {
  const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, ENGRAM_LOAD_JOB: JSON.stringify(job) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m as LoadReport));
    child.once('exit', (code) => reject(new Error(`load generator exited with ${code}`)));
  });
}

/** The load generator: `rate` observations/s (0 = as fast as taken) for `seconds`, at `nice`. */
async function loadGenerator(job: LoadJob): Promise<void> {
  if (job.nice > 0) setPriority(job.nice);
  const vectors = new ClusteredVectors({ dimension: DIMENSION, seed: 11 }).take(4000);
  const spaces = Array.from({ length: LOAD_SPACES }, (_, s) => `${job.prefix}-${s}`);
  // a rate of 0 sends as fast as the engine takes, for `seconds` worth of a generous guess
  const perSpace = Math.ceil(((job.rate > 0 ? job.rate : 6000) * job.seconds) / LOAD_SPACES);
  const r = await runLoad({ address: job.address, spaces, perSpace, vectors, idPrefix: job.prefix, ...(job.rate > 0 ? { rate: job.rate } : {}) });
  const cpu = process.cpuUsage();
  const report: LoadReport = {
    indexed: r.indexed, indexedRate: r.indexed / r.indexSeconds,
    indexedP50: quantile(r.indexLatencyMs, 0.5), indexedP99: quantile(r.indexLatencyMs, 0.99), cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
  process.send!(report, () => process.exit(0));
}
