// One memory space's index: a vector graph (hnswlib or usearch, by the config it was built with;
// see vector-graph.ts) with the id, content and metadata of every vector, and the highest log
// sequence number it holds. Created on first use; observing an id again replaces its vector. It
// can write itself as a snapshot, and rebuild with other parameters or another backend: a copy of
// the graph is rebuilt elsewhere while this one keeps serving and remembers what changed, then the
// rebuilt graph takes over with those changes applied.
import { closeSync, fsyncSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import type { HnswConfig } from '../config/engine-config.js';
import { digestIds, type IdDigest } from './id-digest.js';
import type { BatchData, FetchedData, RecallHitData, SpaceState } from './index-data.js';
import { createGraph, loadGraph, type VectorGraph } from './vector-graph.js';
import { dropFilePages } from '../memory/memory-release.js';

const INITIAL_CAPACITY = 1024;

/** What a snapshot's state file holds besides the graph. */
interface SnapshotState {
  ids: string[];
  contents: string[];
  metadata: Array<Record<string, string> | null>;
}

export class SpaceIndex {
  private graph: VectorGraph;
  /** Labels changed since a rebuild copied the graph (null when no rebuild is running). */
  private changedSinceCopy: Set<number> | null = null;
  /** Highest log sequence number indexed (0 without a log). */
  lsn = 0;
  private readonly labels = new Map<string, number>();
  private readonly ids: string[];
  private readonly contents: string[];
  private readonly metadata: Array<Record<string, string> | null>;
  private ef: number;

  private constructor(public hnsw: HnswConfig, state: SpaceState | null, path: string | null) {
    this.ids = state ? state.ids : [];
    this.contents = state ? state.contents : [];
    this.metadata = state ? state.metadata : [];
    if (path) {
      this.graph = loadGraph(hnsw, path);
      this.ids.forEach((id, label) => this.labels.set(id, label));
    } else {
      this.graph = createGraph(hnsw, INITIAL_CAPACITY);
    }
    this.ef = hnsw.efSearch;
    this.lsn = state?.lsn ?? 0;
  }

  static create(hnsw: HnswConfig): SpaceIndex {
    return new SpaceIndex(hnsw, null, null);
  }

  static load(path: string, state: SpaceState): SpaceIndex {
    return new SpaceIndex(state.hnsw, state, path);
  }

  /** Loads a snapshot written by `writeSnapshot` (an empty space has no graph file). */
  static readSnapshot(graphPath: string | null, statePath: string, hnsw: HnswConfig, lsn: number): SpaceIndex {
    const state = JSON.parse(readFileSync(statePath, 'utf8')) as SnapshotState;
    if (!graphPath || state.ids.length === 0) {
      const index = new SpaceIndex(hnsw, null, null);
      index.lsn = lsn;
      return index;
    }
    return new SpaceIndex(hnsw, { ...state, hnsw, lsn }, graphPath);
  }

  get size(): number {
    return this.ids.length;
  }

  /** Count and checksum of the ids it holds (a hand-off compares both copies with it). */
  digest(): IdDigest {
    return digestIds(this.ids);
  }

  setEfSearch(ef: number): void {
    this.ef = ef;
  }

  /** Inserts or replaces the vector at `vectors[offset .. offset + dimension)`. */
  upsert(id: string, vectors: Float32Array, offset: number, content: string, metadata: Record<string, string> | null): void {
    const label = this.labels.get(id) ?? this.ids.length;
    this.graph.upsert(Uint32Array.of(label), vectors.subarray(offset, offset + this.hnsw.dimension), 1);
    this.store(label, id, content, metadata);
  }

  /**
   * Inserts or replaces observations `from` to `to` (exclusive) of a batch, handing the graph as
   * many at a time as it takes in one call (on up to `threads` threads): a run ends before an id
   * it already holds, so the later vector of an id seen twice goes in last.
   */
  upsertMany(batch: BatchData, from: number, to: number, threads: number): void {
    const dim = this.hnsw.dimension;
    for (let start = from, end = from; start < to; start = end) {
      const labels: number[] = [];
      const fresh = new Map<string, number>();
      const inRun = new Set<number>();
      for (; end < to; end++) {
        const id = batch.ids[end] as string;
        let label = this.labels.get(id) ?? fresh.get(id);
        if (label === undefined) fresh.set(id, (label = this.ids.length + fresh.size));
        if (inRun.has(label)) break;
        inRun.add(label);
        labels.push(label);
      }
      this.graph.upsert(Uint32Array.from(labels), batch.vectors.subarray(start * dim, end * dim), threads);
      for (let i = start; i < end; i++) this.store(labels[i - start] as number, batch.ids[i] as string, batch.contents[i] as string, batch.metadata[i] ?? null);
    }
  }

  /** Records what goes with a label once the graph holds its vector (a new id's label is the next one). */
  private store(label: number, id: string, content: string, metadata: Record<string, string> | null): void {
    this.changedSinceCopy?.add(label);
    if (label === this.ids.length) {
      this.labels.set(id, label);
      this.ids.push(id);
      this.contents.push(content);
      this.metadata.push(metadata);
    } else {
      this.contents[label] = content;
      this.metadata[label] = metadata;
    }
  }

  /**
   * The ids of the k nearest vectors by exhaustive search (the truth a recall's answer is measured
   * against). Costs one distance per vector: used on a sampled share of recalls only.
   */
  exactSearch(vector: Float32Array, k: number): string[] {
    const { metric } = this.hnsw;
    const best: Array<{ label: number; distance: number }> = [];
    for (let label = 0; label < this.ids.length; label++) {
      const d = distance(metric, this.graph.vector(label), vector);
      if (best.length < k || d < best[best.length - 1]!.distance) {
        best.push({ label, distance: d });
        best.sort((a, b) => a.distance - b.distance);
        if (best.length > k) best.pop();
      }
    }
    return best.map((b) => this.ids[b.label] as string);
  }

  search(vector: Float32Array, k: number, ef: number): RecallHitData[] {
    const n = Math.min(k, this.ids.length);
    if (n === 0) return [];
    const { labels, distances } = this.graph.search(vector, n, ef > 0 ? ef : this.ef);
    const hits: RecallHitData[] = [];
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i] as number;
      const d = distances[i] as number;
      hits.push({
        id: this.ids[label] as string, distance: d,
        similarity: this.hnsw.metric === 'l2' ? 1 / (1 + d) : 1 - d,
        content: this.contents[label] as string, metadata: this.metadata[label] ?? null,
      });
    }
    return hits;
  }

  /** The stored observation of `id` (its vector as the graph holds it), or null. */
  get(id: string): FetchedData | null {
    const label = this.labels.get(id);
    if (label === undefined) return null;
    return { id, vector: this.graph.vector(label), content: this.contents[label] as string, metadata: this.metadata[label] ?? null };
  }

  /** Writes the graph to `path` and returns the rest of the state, for another worker to load. */
  export(path: string): SpaceState {
    this.graph.save(path);
    return { hnsw: { ...this.hnsw, efSearch: this.ef }, ids: this.ids, contents: this.contents, metadata: this.metadata, lsn: this.lsn };
  }

  /** Writes graph and state files and syncs both; the caller makes them current atomically. */
  writeSnapshot(graphPath: string, statePath: string): void {
    if (this.ids.length > 0) {
      this.graph.save(graphPath);
      syncFile(graphPath);
    }
    const state: SnapshotState = { ids: this.ids, contents: this.contents, metadata: this.metadata };
    writeFileSync(statePath, JSON.stringify(state));
    syncFile(statePath);
  }

  /** Writes a copy of the graph for a rebuild and starts remembering which labels change. */
  beginRebuild(graphPath: string): void {
    this.graph.save(graphPath);
    this.changedSinceCopy = new Set();
  }

  /**
   * Swaps in the graph rebuilt with `hnsw` at `graphPath` (other M, efConstruction, backend or
   * quantization), first replaying into it every label changed since the copy.
   */
  finishRebuild(graphPath: string, hnsw: HnswConfig): void {
    const changed = this.changedSinceCopy;
    if (!changed) throw new Error('no rebuild is running for this space');
    const rebuilt = loadGraph(hnsw, graphPath);
    const dim = this.hnsw.dimension;
    const labels = Uint32Array.from([...changed].sort((a, b) => a - b));
    const vectors = new Float32Array(labels.length * dim);
    labels.forEach((label, i) => vectors.set(this.graph.vector(label), i * dim));
    rebuilt.upsert(labels, vectors, 1);
    this.graph.free();
    this.graph = rebuilt;
    this.hnsw = { ...hnsw, efSearch: this.ef };
    this.changedSinceCopy = null;
  }

  /** Frees the graph's memory now (see `VectorGraph.free`); the index is empty afterwards. */
  release(): void {
    this.graph.free();
    this.labels.clear();
    this.ids.length = 0;
    this.contents.length = 0;
    this.metadata.length = 0;
  }

  /** Forgets a rebuild that will not finish (its copy failed or was abandoned). */
  abandonRebuild(): void {
    this.changedSinceCopy = null;
  }
}

/**
 * The distance a graph reports between a stored vector and a query: squared L2, 1 - inner
 * product, or 1 - cosine (stored cosine vectors are unit length; the query need not be).
 */
function distance(metric: HnswConfig['metric'], point: Float32Array, query: Float32Array): number {
  let sum = 0;
  if (metric === 'l2') {
    for (let i = 0; i < query.length; i++) sum += ((point[i] as number) - (query[i] as number)) ** 2;
    return sum;
  }
  let pp = 0;
  let qq = 0;
  for (let i = 0; i < query.length; i++) {
    const p = point[i] as number;
    const q = query[i] as number;
    sum += p * q;
    pp += p * p;
    qq += q * q;
  }
  return metric === 'ip' ? 1 - sum : 1 - sum / (Math.sqrt(pp * qq) || 1);
}

/** Syncs a snapshot file, then drops it from the page cache: it is read again only at recovery. */
function syncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
    dropFilePages(fd);
  } finally {
    closeSync(fd);
  }
}
