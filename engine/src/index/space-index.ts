// One memory space's HNSW index (hnswlib-node) with the id, content and metadata of every vector.
// Created on first use and grown by doubling; observing an id again replaces its vector.
import hnswlib from 'hnswlib-node';
import type { HnswConfig } from '../config/engine-config.js';
import type { RecallHitData, SpaceState } from '../pool/messages.js';

const { HierarchicalNSW } = hnswlib;
const INITIAL_CAPACITY = 1024;

export class SpaceIndex {
  private readonly index: InstanceType<typeof HierarchicalNSW>;
  private readonly labels = new Map<string, number>();
  private readonly ids: string[];
  private readonly contents: string[];
  private readonly metadata: Array<Record<string, string> | null>;
  /** hnswlib-node takes only plain arrays: one reused buffer avoids an allocation per insert. */
  private readonly scratch: number[];
  private ef: number;

  private constructor(readonly hnsw: HnswConfig, state: SpaceState | null, path: string | null) {
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
  }

  static create(hnsw: HnswConfig): SpaceIndex {
    return new SpaceIndex(hnsw, null, null);
  }

  static load(path: string, state: SpaceState): SpaceIndex {
    return new SpaceIndex(state.hnsw, state, path);
  }

  get size(): number {
    return this.ids.length;
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

  /** Writes the graph to `path` and returns the rest of the state, for another worker to load. */
  export(path: string): SpaceState {
    this.index.writeIndexSync(path);
    return { hnsw: { ...this.hnsw, efSearch: this.ef }, ids: this.ids, contents: this.contents, metadata: this.metadata };
  }
}
