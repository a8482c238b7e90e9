// One store's run for `npm run bench:peers`, in a process of its own (forked by peers.ts with
// --expose-gc), so the resident memory it reports is that store's and nothing else's. The vectors
// are made (or read) here from the same source as the parent's, a chunk at a time and dropped once
// written: the parent sends only the queries and their true neighbours.
import { rmSync } from 'node:fs';
import { vectorsFor, type PeerData, type VectorSource } from './peer-data.js';
import { openStore, type PeerStore, type PeerSystem } from './peer-stores.js';
import { quantile } from './quantiles.js';

export interface PeerPlan {
  system: PeerSystem;
  dir: string;
  dimension: number;
  data: PeerData;
  /** Vector counts at which the base collection is measured, ascending. */
  sizes: number[];
  queries: number[][];
  /** Per size: each query's 10 true nearest (positions in the base collection). */
  truth: Record<number, number[][]>;
  /** Vectors written one per call, each call waiting until it is searchable. */
  single: number;
  /** Vectors written in calls of 100, each call waiting until all are searchable. */
  batched: number;
  /** Samples of the time from a write to the first search that finds it. */
  freshness: number;
  /** The most vectors the writer running beside the searches adds ("under ingest"). */
  ingestCap: number;
}

export interface SearchFigures { p50Ms: number; p99Ms: number; recallAt10: number; written: number }

export interface SizeFigures {
  vectors: number;
  /** Writing the collection up to this size, until searchable, vectors/s. */
  fillRate: number;
  /** LanceDB: building its HNSW index over the collection afterwards, seconds (0 for the others). */
  indexSeconds: number;
  residentBytes: number;
  /** Resident bytes over the process's before the store held anything. */
  residentAddedBytes: number;
  diskBytes: number;
  idle: SearchFigures;
  underIngest: SearchFigures;
}

export interface PeerFigures {
  system: PeerSystem;
  sizes: SizeFigures[];
  single: { rate: number; p50Ms: number; p99Ms: number };
  batched: { rate: number };
  /**
   * From a write to the first search that returns it; `notFound`: samples no search returned
   * within 5 s, `heldNotFound` of those the store holds (an exact lookup finds them).
   */
  freshness: { p50Ms: number; p99Ms: number; notFound: number; heldNotFound: number };
}

const BASE = 'base';
const CHUNK = 5000;

function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

async function fill(store: PeerStore, vectors: VectorSource, from: number, to: number): Promise<number> {
  let seconds = 0;
  for (let start = from; start < to; start += CHUNK) {
    const count = Math.min(CHUNK, to - start);
    const chunk = vectors.take(count);
    const ids = Array.from({ length: count }, (_, n) => start + n);
    const began = performance.now();
    await store.insertMany(BASE, ids, chunk, 100);
    seconds += (performance.now() - began) / 1000;
  }
  return seconds;
}

/** Something written beside the searches; `stop` ends it, `written` says how much it wrote. */
interface Writer { stop(): void; written: Promise<number> }

const noWriter = (): Writer => ({ stop: () => undefined, written: Promise.resolve(0) });

async function measureSearch(store: PeerStore, plan: PeerPlan, truth: number[][], startWriter: () => Writer): Promise<SearchFigures> {
  const ms: number[] = [];
  let found = 0;
  const writer = startWriter();
  for (const [q, query] of plan.queries.entries()) {
    const began = performance.now();
    const ids = await store.search(BASE, Float32Array.from(query), 10);
    ms.push(performance.now() - began);
    const expected = new Set(truth[q]);
    found += ids.filter((id) => expected.has(id)).length;
  }
  writer.stop();
  return { p50Ms: quantile(ms, 0.5), p99Ms: quantile(ms, 0.99), recallAt10: found / (plan.queries.length * 10), written: await writer.written };
}

/** Ids of the vectors from other clusters, above any base position. */
let nextOtherId = 50_000_000;

/**
 * Writes other vectors (other clusters, or other sentences) into the base collection as fast as
 * the store takes them (in calls of 100; Engram streams them), until stopped or `cap`.
 */
function ingestBeside(store: PeerStore, other: VectorSource, cap: number): () => Writer {
  return () => {
    let stopped = false;
    const written = (async () => {
      let count = 0;
      while (!stopped && count < cap) {
        await store.ingest(BASE, Array.from({ length: 100 }, () => nextOtherId++), other.take(100));
        count += 100;
      }
      return count;
    })();
    return { stop: () => { stopped = true; }, written };
  };
}

/** How long a freshness sample waits for a search to find what it wrote before it counts as not found. */
const FRESHNESS_GIVE_UP_MS = 5000;

/**
 * Writes one vector at a time and searches for it (k = 10: an HNSW graph can leave a point its own
 * top-1 misses, which recall@10 already counts) until a search returns it.
 */
async function measureFreshness(store: PeerStore, other: VectorSource, samples: number): Promise<PeerFigures['freshness']> {
  const ms: number[] = [];
  let notFound = 0;
  let heldNotFound = 0;
  for (let i = 0; i < samples; i++) {
    const id = nextOtherId++;
    const vector = other.next();
    const began = performance.now();
    await store.write(BASE, id, vector);
    let found = false;
    while (!found && performance.now() - began < FRESHNESS_GIVE_UP_MS) found = (await store.search(BASE, vector, 10)).includes(id);
    if (found) ms.push(performance.now() - began);
    else {
      notFound++;
      if (await store.holds(BASE, id)) heldNotFound++;
    }
  }
  return { p50Ms: quantile(ms, 0.5), p99Ms: quantile(ms, 0.99), notFound, heldNotFound };
}

async function measureSingle(store: PeerStore, vectors: VectorSource, count: number): Promise<PeerFigures['single']> {
  const ms: number[] = [];
  const began = performance.now();
  for (let i = 0; i < count; i++) {
    const vector = vectors.next();
    const sent = performance.now();
    await store.insertOne('single', i, vector);
    ms.push(performance.now() - sent);
  }
  return { rate: count / ((performance.now() - began) / 1000), p50Ms: quantile(ms, 0.5), p99Ms: quantile(ms, 0.99) };
}

async function measureBatched(store: PeerStore, vectors: VectorSource, count: number): Promise<PeerFigures['batched']> {
  const began = performance.now();
  for (let start = 0; start < count; start += 100) {
    const n = Math.min(100, count - start);
    await store.insertMany('batched', Array.from({ length: n }, (_, i) => start + i), vectors.take(n), 100);
  }
  return { rate: count / ((performance.now() - began) / 1000) };
}

export async function runPeer(plan: PeerPlan): Promise<PeerFigures> {
  rmSync(plan.dir, { recursive: true, force: true });
  collectGarbage();
  const store = await openStore(plan.system, plan.dir, plan.dimension);
  try {
    const residentBefore = store.residentBytes();
    const base = vectorsFor(plan.data, plan.dimension, 'base');
    const other = vectorsFor(plan.data, plan.dimension, 'other');
    const sizes: SizeFigures[] = [];
    let filled = 0;
    for (const size of plan.sizes) {
      const fillSeconds = await fill(store, base, filled, size);
      const indexing = performance.now();
      await store.buildIndex(BASE);
      const indexSeconds = (performance.now() - indexing) / 1000;
      filled = size;
      collectGarbage();
      const residentBytes = store.residentBytes();
      const diskBytes = store.diskBytes();
      const truth = plan.truth[size]!;
      const idle = await measureSearch(store, plan, truth, noWriter);
      const underIngest = await measureSearch(store, plan, truth, ingestBeside(store, other, plan.ingestCap));
      sizes.push({ vectors: size, fillRate: (size - (sizes.at(-1)?.vectors ?? 0)) / fillSeconds, indexSeconds, residentBytes, residentAddedBytes: residentBytes - residentBefore, diskBytes, idle, underIngest });
      process.stderr.write(`${plan.system}: ${size} vectors measured\n`);
    }
    await store.settled(BASE); // freshness on an idle store: what the last writer streamed is indexed first
    const freshness = await measureFreshness(store, other, plan.freshness);
    const single = await measureSingle(store, vectorsFor(plan.data, plan.dimension, 'single'), plan.single);
    const batched = await measureBatched(store, vectorsFor(plan.data, plan.dimension, 'batched'), plan.batched);
    return { system: plan.system, sizes, single, batched, freshness };
  } finally {
    await store.close();
    rmSync(plan.dir, { recursive: true, force: true });
  }
}

if (process.send) {
  process.once('message', (plan: PeerPlan) => {
    runPeer(plan).then(
      (figures) => process.send!(figures, () => process.exit(0)),
      (e: unknown) => {
        process.stderr.write(`${plan.system}: ${e instanceof Error ? e.stack : String(e)}\n`);
        process.exit(1);
      },
    );
  });
}
