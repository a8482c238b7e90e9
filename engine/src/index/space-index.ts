// One memory space's HNSW index (hnswlib-node) with the id, content and metadata of every vector,
// and the highest log sequence number it holds. Created on first use and grown by doubling;
// observing an id again replaces its vector. It can write itself as a snapshot, and rebuild with
// other HNSW parameters: a copy of the graph is rebuilt elsewhere while this one keeps serving and
// remembers what changed, then the rebuilt graph takes over with those changes applied.
import { closeSync, fsyncSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { hnswlib } from './hnswlib-addon.js';
import type { HnswConfig } from '../config/engine-config.js';
import { digestIds, type IdDigest } from './id-digest.js';
import type { FetchedData, RecallHitData, SpaceState } from './index-data.js';
import { dropFilePages } from '../memory/memory-release.js';

const { HierarchicalNSW } = hnswlib;
const INITIAL_CAPACITY = 1024;

type Graph = InstanceType<typeof HierarchicalNSW>;

/** What a snapshot's state file holds besides the graph. */
interface SnapshotState {
  ids: string[];
  contents: string[];
  metadata: Array<Record<string, string> | null>;
}

export class SpaceIndex {
  private index: Graph;
  /** Labels changed since a rebuild copied the graph (null when no rebuild is running). */
  private changedSinceCopy: Set<number> | null = null;
  /** Highest log sequence number indexed (0 without a log). */
  lsn = 0;
  private readonly labels = new Map<string, number>();
  private readonly ids: string[];
  private readonly contents: string[];
  private readonly metadata: Array<Record<string, string> | null>;
  /** hnswlib-node takes only plain arrays: one reused buffer avoids an allocation per insert. */
  private readonly scratch: number[];
  private ef: number;

  private constructor(public hnsw: HnswConfig, state: SpaceState | null, path: string | null) {
    this.index = new HierarchicalNSW(hnsw.metric, hnsw.dimension);
    this.scratch = new Array<number>(hnsw.dimension).fill(0);
    this.ids = state ? state.ids : [];
    this.contents = state ? state.contents : [];
    this.metadata = state ? state.metadata : [];
    if (path) {
      this.index.readIndexSync(path);
      this.ids.forEach((id, label) => this.labels.set(id, label));
    } else {
      this.index.initIndex({ maxElements: INITIAL_CAPACITY, m: hnsw.m, efConstruction: hnsw.efConstruction });
    }
    this.ef = hnsw.efSearch;
    this.index.setEf(this.ef);
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
    this.index.setEf(ef);
  }

  /** Inserts or replaces the vector at `vectors[offset .. offset + dimension)`. */
  upsert(id: string, vectors: Float32Array, offset: number, content: string, metadata: Record<string, string> | null): void {
    const dim = this.hnsw.dimension;
    for (let i = 0; i < dim; i++) this.scratch[i] = vectors[offset + i] as number;
    let label = this.labels.get(id);
    this.changedSinceCopy?.add(label ?? this.ids.length);
    if (label === undefined) {
      label = this.ids.length;
      if (label >= this.index.getMaxElements()) this.index.resizeIndex(this.index.getMaxElements() * 2);
      this.index.addPoint(this.scratch, label);
      this.labels.set(id, label);
      this.ids.push(id);
      this.contents.push(content);
      this.metadata.push(metadata);
    } else {
      this.index.addPoint(this.scratch, label);
      this.contents[label] = content;
      this.metadata[label] = metadata;
    }
  }

  /**
   * The ids of the k nearest vectors by exhaustive search (the truth a recall's answer is measured
   * against). Costs one distance per vector: used on a sampled share of recalls only.
   */
  exactSearch(vector: Float32Array, k: number): string[] {
    const { metric, dimension } = this.hnsw;
    const query = Array.from(vector);
    if (metric === 'cosine') {
      // hnswlib stores cosine vectors normalised; the query is normalised the same way.
      const norm = Math.sqrt(query.reduce((s, x) => s + x * x, 0)) || 1;
      for (let i = 0; i < dimension; i++) query[i] = (query[i] as number) / norm;
    }
    const best: Array<{ label: number; distance: number }> = [];
    for (let label = 0; label < this.ids.length; label++) {
      const point = this.index.getPoint(label);
      let d = 0;
      if (metric === 'l2') {
        for (let i = 0; i < dimension; i++) d += ((point[i] as number) - (query[i] as number)) ** 2;
      } else {
        for (let i = 0; i < dimension; i++) d += (point[i] as number) * (query[i] as number);
        d = 1 - d;
      }
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
    const query = Array.from(vector);
    const useEf = ef > 0 ? ef : this.ef;
    if (useEf !== this.ef) this.index.setEf(useEf);
    try {
      const { neighbors, distances } = this.index.searchKnn(query, n);
      return neighbors.map((label, i) => {
        const distance = distances[i] as number;
        return {
          id: this.ids[label] as string,
          distance,
          similarity: this.hnsw.metric === 'l2' ? 1 / (1 + distance) : 1 - distance,
          content: this.contents[label] as string,
          metadata: this.metadata[label] ?? null,
        };
      });
    } finally {
      if (useEf !== this.ef) this.index.setEf(this.ef);
    }
  }

  /** The stored observation of `id` (its vector as hnswlib holds it), or null. */
  get(id: string): FetchedData | null {
    const label = this.labels.get(id);
    if (label === undefined) return null;
    return {
      id, vector: Float32Array.from(this.index.getPoint(label)),
      content: this.contents[label] as string, metadata: this.metadata[label] ?? null,
    };
  }

  /** Writes the graph to `path` and returns the rest of the state, for another worker to load. */
  export(path: string): SpaceState {
    this.index.writeIndexSync(path);
    return { hnsw: { ...this.hnsw, efSearch: this.ef }, ids: this.ids, contents: this.contents, metadata: this.metadata, lsn: this.lsn };
  }

  /** Writes graph and state files and syncs both; the caller makes them current atomically. */
  writeSnapshot(graphPath: string, statePath: string): void {
    if (this.ids.length > 0) {
      this.index.writeIndexSync(graphPath);
      syncFile(graphPath);
    }
    const state: SnapshotState = { ids: this.ids, contents: this.contents, metadata: this.metadata };
    writeFileSync(statePath, JSON.stringify(state));
    syncFile(statePath);
  }

  /** Writes a copy of the graph for a rebuild and starts remembering which labels change. */
  beginRebuild(graphPath: string): void {
    this.index.writeIndexSync(graphPath);
    this.changedSinceCopy = new Set();
  }

  /** Swaps in the rebuilt graph at `graphPath`, first replaying every label changed since the copy. */
  finishRebuild(graphPath: string, hnsw: HnswConfig): void {
    const changed = this.changedSinceCopy;
    if (!changed) throw new Error('no rebuild is running for this space');
    const rebuilt = new HierarchicalNSW(this.hnsw.metric, this.hnsw.dimension);
    rebuilt.readIndexSync(graphPath);
    let capacity = Math.max(rebuilt.getMaxElements(), INITIAL_CAPACITY);
    while (capacity < this.ids.length) capacity *= 2;
    if (capacity !== rebuilt.getMaxElements()) rebuilt.resizeIndex(capacity);
    for (const label of [...changed].sort((a, b) => a - b)) rebuilt.addPoint(this.index.getPoint(label), label);
    freeGraph(this.index);
    this.index = rebuilt;
    this.hnsw = { ...hnsw, efSearch: this.ef };
    this.index.setEf(this.ef);
    this.changedSinceCopy = null;
  }

  /**
   * Frees the graph's memory now; the index is empty afterwards. For a space that has left this
   * worker (moved, or replaced by a snapshot): see `freeGraph`.
   */
  release(): void {
    freeGraph(this.index);
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
 * Replaces a graph's native memory with an index of one slot. hnswlib-node does not tell V8 how
 * much memory a graph holds, so an unreachable graph waits for a garbage collection that a worker's
 * small JS heap may not need for minutes: measured, a worker that had handed three spaces to the
 * other kept their graphs (25 MB each at 5,000 vectors) resident to the end of the run.
 */
function freeGraph(graph: Graph): void {
  graph.initIndex({ maxElements: 1, m: 2, efConstruction: 2 });
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
