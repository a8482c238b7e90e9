// `npm run bench:simd`: hnswlib compiled for x86-64-v3 (AVX2, FMA; built at install) against npm's
// portable build of hnswlib-node, on the same data in the same run. For each build, in alternating
// order over the runs: raw addPoint on one thread (the balanced profile's M 16, efConstruction 200),
// searchKnn k=10 p50/p99 with recall@10 against an exact search, each in a process of its own
// (a process loads one build); then the engine's indexed rate on the balanced profile, started with
// that build. Medians over the runs; the target is the v3 build's indexed rate at least 1.5x.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ClusteredVectors } from '@engram/engine/synthetic';
import { startEngine } from '@engram/engine/testing';
import { commandLine } from './command-line.js';
import { runLoad } from './load.js';
import { median, quantile } from './quantiles.js';

const DIMENSION = 768;
const BUILDS = ['portable', 'x86-64-v3'] as const;
type Build = (typeof BUILDS)[number];

interface RawResult { build: string; insertsPerSecond: number; searchP50Ms: number; searchP99Ms: number; recallAt10: number }
interface Row extends RawResult { engineIndexedPerSecond: number }

if (process.env.ENGRAM_SIMD_ROLE === 'raw') void rawChild(Number(process.env.ENGRAM_SIMD_COUNT));
else {
  const args = commandLine({ runs: { type: 'string', default: '3' }, count: { type: 'string', default: '8000' }, observations: { type: 'string', default: '20000' } }, {
    description: 'hnswlib built for x86-64-v3 (AVX2, FMA) against the portable build: raw inserts, search latency and recall, and the engine\'s indexed rate, same run.',
    help: { runs: 'runs per build (alternating)', count: 'vectors in the raw index', observations: 'observations streamed into the engine per run' },
  });
  main(Number(args.runs), Number(args.count), Number(args.observations)).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}

async function main(runs: number, count: number, observations: number): Promise<void> {
  console.log(`hnswlib builds: ${runs} runs each, ${count} vectors raw, ${observations} observations into the engine (balanced profile), ${DIMENSION} dims`);
  const rows: Row[] = [];
  for (let run = 0; run < runs; run++) {
    for (const build of run % 2 === 0 ? BUILDS : [...BUILDS].reverse()) {
      const raw = await rawIn(build, count);
      const engineIndexedPerSecond = await engineIndexedRate(build, observations);
      rows.push({ ...raw, engineIndexedPerSecond });
      console.log(`run ${run + 1}, ${build}: raw ${raw.insertsPerSecond.toFixed(0)} inserts/s, search p50 ${raw.searchP50Ms.toFixed(3)} / p99 ${raw.searchP99Ms.toFixed(3)} ms, recall@10 ${raw.recallAt10.toFixed(3)}; engine indexed ${engineIndexedPerSecond.toFixed(0)} obs/s`);
    }
  }
  report(rows);
}

/** The raw figures, measured in a child process that loads `build`. */
function rawIn(build: Build, count: number): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, ENGRAM_SIMD_ROLE: 'raw', ENGRAM_SIMD_COUNT: String(count), ENGRAM_HNSW_BUILD: build } });
    child.once('message', (m) => resolve(m as RawResult));
    child.once('exit', (code) => code !== 0 && reject(new Error(`raw measurement with ${build} exited with ${code}`)));
  });
}

async function rawChild(count: number): Promise<void> {
  const { hnswlib, hnswBuild } = await import('@engram/engine/hnswlib');
  // queries from the same clusters as the data (a recall asks for memories like the stored ones)
  const all = new ClusteredVectors({ dimension: DIMENSION, seed: 11 }).take(count + 500);
  const vectors = all.slice(0, count);
  const queries = all.slice(count);
  const index = new hnswlib.HierarchicalNSW('cosine', DIMENSION);
  index.initIndex({ maxElements: count, m: 16, efConstruction: 200 });
  const point = new Array<number>(DIMENSION).fill(0);
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const v = vectors[i]!;
    for (let d = 0; d < DIMENSION; d++) point[d] = v[d]!;
    index.addPoint(point, i);
  }
  const insertsPerSecond = count / ((performance.now() - started) / 1000);
  index.setEf(64); // the engine's default efSearch
  const latencies: number[] = [];
  let found = 0;
  for (const [q, query] of queries.entries()) {
    const plain = Array.from(query);
    const t = performance.now();
    const { neighbors } = index.searchKnn(plain, 10);
    latencies.push(performance.now() - t);
    if (q < 100) found += overlap(neighbors, exactTop10(vectors, query));
  }
  process.send!({ build: hnswBuild.build, insertsPerSecond, searchP50Ms: quantile(latencies, 0.5), searchP99Ms: quantile(latencies, 0.99), recallAt10: found / 1000 }, () => process.exit(0));
}

/** The ten nearest by cosine similarity, by looking at every vector. */
function exactTop10(vectors: Float32Array[], query: Float32Array): number[] {
  const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  const qn = norm(query);
  const scored = vectors.map((v, i) => {
    let dot = 0;
    for (let d = 0; d < DIMENSION; d++) dot += v[d]! * query[d]!;
    return { i, similarity: dot / (norm(v) * qn) };
  });
  return scored.sort((a, b) => b.similarity - a.similarity).slice(0, 10).map((s) => s.i);
}

function overlap(found: number[], exact: number[]): number {
  const wanted = new Set(exact);
  return found.filter((f) => wanted.has(f)).length;
}

/** Observations/s the engine indexed, started with `build`, from a load generator streaming into 4 spaces. */
async function engineIndexedRate(build: Build, observations: number): Promise<number> {
  process.env.ENGRAM_HNSW_BUILD = build;
  const engine = await startEngine({}, ['--profile', 'balanced', '--ephemeral']);
  try {
    const running = engine.logEntries().find((e) => e.message === 'engine listening')?.hnswBuild;
    if (typeof running !== 'string' || !running.startsWith(build)) throw new Error(`the engine runs ${String(running)}, not ${build}`);
    const vectors = new ClusteredVectors({ dimension: DIMENSION, seed: 13 }).take(4000);
    const load = await runLoad({ address: engine.address, spaces: ['simd-0', 'simd-1', 'simd-2', 'simd-3'], perSpace: Math.floor(observations / 4), vectors, idPrefix: build });
    return load.indexed / load.indexSeconds;
  } finally {
    delete process.env.ENGRAM_HNSW_BUILD;
    await engine.stop();
  }
}

function report(rows: Row[]): void {
  const of = (build: Build, key: keyof Omit<Row, 'build'>) => median(rows.filter((r) => r.build === build).map((r) => r[key]));
  console.log('| build | raw inserts/s (1 thread) | search k=10 p50 / p99 (ms) | recall@10 | engine indexed obs/s (balanced) |');
  console.log('|---|---|---|---|---|');
  for (const build of BUILDS) {
    console.log(`| ${build} | ${of(build, 'insertsPerSecond').toFixed(0)} | ${of(build, 'searchP50Ms').toFixed(3)} / ${of(build, 'searchP99Ms').toFixed(3)} | ${of(build, 'recallAt10').toFixed(3)} | ${of(build, 'engineIndexedPerSecond').toFixed(0)} |`);
  }
  const ratio = (key: keyof Omit<Row, 'build'>) => (of('x86-64-v3', key) / of('portable', key)).toFixed(2);
  console.log(`x86-64-v3 / portable (medians of ${rows.length / 2} runs): raw inserts ${ratio('insertsPerSecond')}x, engine indexed ${ratio('engineIndexedPerSecond')}x (target at least 1.5x), search p50 ${ratio('searchP50Ms')}x of the time`);
}
