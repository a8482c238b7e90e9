// `npm run bench:peers`: Engram against the embedded stores users compare it with, on the same
// data in the same run: LanceDB (@lancedb/lancedb, embedded, its HNSW index) and hnswlib-node
// alone. Each store runs in a process of its own, one after the other (they would share 2 cores
// otherwise), on clustered 768-dimension vectors made from one seed, or on sentence embeddings
// from a file (--vectors, written by bench/scripts/embed-corpus.py): writes one per call and in
// calls of 100 until searchable, the time from a write to the first search that finds it, search
// k = 10 latency and recall@10 against exact brute force (idle, and while vectors of other
// clusters, or sentences far from every query, are written beside it), resident memory and disk
// after each size.
import { fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withEngineTunables } from '@engram/engine/testing';
import { commandLine } from './command-line.js';
import { checkFits, describeEmbeddings, fileParts, fileRows, vectorsFor, type EmbeddingsDescription, type PeerData } from './peer-data.js';
import { PEER_SYSTEMS, HNSW, type PeerSystem } from './peer-stores.js';
import type { PeerFigures, PeerPlan, SizeFigures } from './peer-run.js';
import { dot, exactNeighbours, normalised } from './recall-check.js';

const args = commandLine({
  sizes: { type: 'string', default: '20000,100000' },
  queries: { type: 'string', default: '200' },
  single: { type: 'string', default: '1000' },
  batched: { type: 'string', default: '5000' },
  freshness: { type: 'string', default: '50' },
  'ingest-cap': { type: 'string', default: '5000' },
  systems: { type: 'string', default: PEER_SYSTEMS.join(',') },
  dimension: { type: 'string', default: '768' },
  seed: { type: 'string', default: '7' },
  vectors: { type: 'string', default: '' },
  quick: { type: 'boolean', default: false },
  out: { type: 'string', default: 'bench/results/peers.json' },
}, {
  description: 'Engram against LanceDB (embedded, HNSW) and hnswlib-node alone on the same data: writes until searchable, freshness, search latency and recall idle and under ingest, memory and disk.',
  help: {
    sizes: 'vector counts at which search, memory and disk are measured', queries: 'search queries per measurement', single: 'vectors written one per call',
    batched: 'vectors written in calls of 100', freshness: 'write-to-found samples', 'ingest-cap': 'most vectors written beside one search measurement',
    systems: `which of ${PEER_SYSTEMS.join(', ')}`, dimension: 'vector dimension (clustered data)', seed: 'the clustered data\'s seed',
    vectors: 'sentence embeddings to use instead of clustered data: a .f32 file from bench/scripts/embed-corpus.py',
    quick: 'a smoke run: 2,000 vectors, 50 queries, 100 single and 500 batched writes, 10 freshness samples', out: 'where the JSON results go',
  },
});

const quick = args.quick;
const sizes = (quick ? '2000' : args.sizes).split(',').map(Number);
const systems = args.systems.split(',').map((s) => {
  if (!(PEER_SYSTEMS as readonly string[]).includes(s)) throw new Error(`unknown system '${s}': one of ${PEER_SYSTEMS.join(', ')}`);
  return s as PeerSystem;
});
const embeddings: EmbeddingsDescription | undefined = args.vectors ? describeEmbeddings(args.vectors) : undefined;
const dimension = embeddings?.dimension ?? Number(args.dimension);
const seed = Number(args.seed);
const MiB = 1024 * 1024;

function packageVersion(name: string): string {
  const file = fileURLToPath(new URL(`../../node_modules/${name}/package.json`, import.meta.url));
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

/** The same vectors every store gets (the children make or read them too), the queries, and the truth. */
function plan(): Omit<PeerPlan, 'system' | 'dir'> {
  const counts = {
    queries: Number(quick ? 50 : args.queries), single: Number(quick ? 100 : args.single), batched: Number(quick ? 500 : args.batched),
    freshness: Number(quick ? 10 : args.freshness), ingestCap: Number(quick ? 500 : args['ingest-cap']),
  };
  const need = {
    base: Math.max(...sizes), queries: counts.queries, single: counts.single, batched: counts.batched,
    // the writer beside the searches writes calls of 100, at each size; then the freshness samples
    other: Math.ceil(counts.ingestCap / 100) * 100 * sizes.length + counts.freshness,
  };
  let data: PeerData = { kind: 'clustered', seed };
  let base: Float32Array[];
  let queries: Float32Array[];
  if (args.vectors) {
    checkFits(args.vectors, embeddings!.count, need);
    [base, queries] = [fileRows(args.vectors, dimension, 0, need.base), fileRows(args.vectors, dimension, need.base, need.queries)];
  } else {
    const source = vectorsFor(data, dimension, 'base');
    base = source.take(need.base);
    queries = source.take(need.queries); // from the base's clusters
  }
  const truth: Record<number, number[][]> = {};
  for (const size of sizes) truth[size] = exactNeighbours(base.slice(0, size), queries, 10).map((s) => [...s]);
  if (args.vectors) {
    // each query's 10th true neighbour in the smallest collection: what is written beside must stay beyond it
    const bar = queries.map((q, i) => Math.min(...truth[Math.min(...sizes)]![i]!.map((row) => dot(normalised(q), normalised(base[row]!)))));
    data = { kind: 'file', path: args.vectors, rows: fileParts(args.vectors, embeddings!.count, dimension, need, queries, bar) };
  }
  const { single, batched, freshness, ingestCap } = counts;
  return { dimension, data, sizes, queries: queries.map((q) => Array.from(q)), truth, single, batched, freshness, ingestCap };
}

function dataLine(): string {
  if (!embeddings) return `clustered, seed ${seed}`;
  return `sentence embeddings by ${embeddings.model} from ${args.vectors} (${embeddings.count.toLocaleString('en-US')} of ${embeddings.sentences.toLocaleString('en-US')} sentences found)`;
}

function run(system: PeerSystem, shared: Omit<PeerPlan, 'system' | 'dir'>): Promise<PeerFigures> {
  const child = fork(fileURLToPath(new URL('./peer-run.js', import.meta.url)), [], {
    execArgv: ['--expose-gc'],
    // LanceDB logs warnings of its own to stderr; the engine gets its allocator settings
    env: { ...withEngineTunables(process.env), LANCEDB_LOG: 'error' },
  });
  return new Promise((resolve, reject) => {
    child.once('message', (figures) => resolve(figures as PeerFigures));
    child.once('exit', (code) => reject(new Error(`${system}'s run exited with ${code}`)));
    child.send({ ...shared, system, dir: join(tmpdir(), `engram-peers-${system}-${process.pid}`) } satisfies PeerPlan);
  });
}

const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;
const rate = (n: number) => Math.round(n).toLocaleString('en-US');

function printWrites(results: PeerFigures[]): void {
  console.log('\nwrites (vectors/s; each call returns once what it wrote is searchable)');
  console.log('| system | one per call | p50 / p99 ms a call | calls of 100 | fill to ' + sizes.map((s) => s.toLocaleString('en-US')).join(' / ') + ' | index build s | write to found p50 / p99 ms (not found) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.system} | ${rate(r.single.rate)} | ${f2(r.single.p50Ms)} / ${f2(r.single.p99Ms)} | ${rate(r.batched.rate)} | ${r.sizes.map((s) => rate(s.fillRate)).join(' / ')} | ${r.sizes.map((s) => f1(s.indexSeconds)).join(' / ')} | ${f2(r.freshness.p50Ms)} / ${f2(r.freshness.p99Ms)} (${r.freshness.notFound}${r.freshness.notFound ? `, ${r.freshness.heldNotFound} held` : ''}) |`);
  }
}

function printSearch(results: PeerFigures[]): void {
  console.log('\nsearch k = 10 (ms) and recall@10 against exact brute force; memory and disk');
  if (embeddings) console.log('(what is written beside the searches: sentences no query has nearer than its 10th true neighbour, so the truth holds under ingest)');
  console.log('| system | vectors | idle p50 / p99 | recall | under ingest p50 / p99 | recall | written meanwhile | resident (added) | disk |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    for (const s of r.sizes) {
      console.log(`| ${r.system} | ${s.vectors.toLocaleString('en-US')} | ${f2(s.idle.p50Ms)} / ${f2(s.idle.p99Ms)} | ${s.idle.recallAt10.toFixed(4)} | ${f2(s.underIngest.p50Ms)} / ${f2(s.underIngest.p99Ms)} | ${s.underIngest.recallAt10.toFixed(4)} | ${s.underIngest.written} | ${mib(s.residentBytes)} (${mib(s.residentAddedBytes)}) | ${mib(s.diskBytes)} |`);
    }
  }
}

/** Each peer's figure over Engram's (above 1: the peer is faster, or uses more). */
function printRatios(results: PeerFigures[]): void {
  const engram = results.find((r) => r.system === 'engram');
  if (!engram) return;
  const last = (r: PeerFigures): SizeFigures => r.sizes.at(-1)!;
  console.log(`\nratios, peer / engram (at ${last(engram).vectors.toLocaleString('en-US')} vectors for search and memory)`);
  for (const r of results.filter((x) => x !== engram)) {
    console.log(`${r.system}: one per call ${f2(r.single.rate / engram.single.rate)}x, calls of 100 ${f2(r.batched.rate / engram.batched.rate)}x, ` +
      `write to found p50 ${f2(r.freshness.p50Ms / engram.freshness.p50Ms)}x, search p50 idle ${f2(last(r).idle.p50Ms / last(engram).idle.p50Ms)}x, ` +
      `under ingest ${f2(last(r).underIngest.p50Ms / last(engram).underIngest.p50Ms)}x, resident added ${f2(last(r).residentAddedBytes / last(engram).residentAddedBytes)}x, disk ${f2(last(r).diskBytes / last(engram).diskBytes)}x`);
  }
}

async function main(): Promise<void> {
  const versions = { lancedb: packageVersion('@lancedb/lancedb'), hnswlib: packageVersion('hnswlib-node'), engram: packageVersion('@engram/engine') };
  console.log(`peers: ${systems.join(', ')}; ${sizes.join(', ')} vectors of ${dimension} dimensions (${dataLine()}); HNSW M ${HNSW.m}, efConstruction ${HNSW.efConstruction}, ef ${HNSW.efSearch}, cosine`);
  console.log(`versions: @lancedb/lancedb ${versions.lancedb} (IVF_HNSW_SQ, one partition), hnswlib-node ${versions.hnswlib}, engram engine ${versions.engram} (balanced profile)`);
  const shared = plan();
  const results: PeerFigures[] = [];
  for (const system of systems) results.push(await run(system, shared));
  printWrites(results);
  printSearch(results);
  printRatios(results);
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, JSON.stringify({ versions, sizes, dimension, data: embeddings ? { vectors: args.vectors, ...embeddings } : { seed }, hnsw: HNSW, results }, null, 2));
  console.log(`\nwritten to ${args.out}`);
}

await main();
