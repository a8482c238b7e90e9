// hnsw.backend hnswlib: a graph of hnswlib-node (the build hnswlib-addon.ts chooses for the CPU).
import type { HnswConfig } from '../config/engine-config.js';
import { hnswlib } from './hnswlib-addon.js';
import type { GraphHits, VectorGraph } from './vector-graph.js';

const { HierarchicalNSW } = hnswlib;
type Native = InstanceType<typeof HierarchicalNSW>;

export class HnswlibGraph implements VectorGraph {
  /** hnswlib-node takes only plain arrays: one reused buffer avoids an allocation per insert. */
  private readonly scratch: number[];
  /** The ef the native index is set to (set again only when a search asks for another). */
  private ef = 0;

  private constructor(private readonly native: Native, private readonly dimension: number) {
    this.scratch = new Array<number>(dimension).fill(0);
  }

  static create(hnsw: HnswConfig, capacity: number): HnswlibGraph {
    const native = new HierarchicalNSW(hnsw.metric, hnsw.dimension);
    native.initIndex({ maxElements: Math.max(capacity, 1), m: hnsw.m, efConstruction: hnsw.efConstruction });
    return new HnswlibGraph(native, hnsw.dimension);
  }

  static load(hnsw: HnswConfig, path: string): HnswlibGraph {
    const native = new HierarchicalNSW(hnsw.metric, hnsw.dimension);
    native.readIndexSync(path);
    return new HnswlibGraph(native, hnsw.dimension);
  }

  get count(): number {
    return this.native.getCurrentCount();
  }

  upsert(labels: Uint32Array, vectors: Float32Array): void {
    const dim = this.dimension;
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i] as number;
      const capacity = this.native.getMaxElements();
      if (label >= capacity) this.native.resizeIndex(Math.max(capacity * 2, label + 1));
      for (let j = 0; j < dim; j++) this.scratch[j] = vectors[i * dim + j] as number;
      this.native.addPoint(this.scratch, label);
    }
  }

  search(query: Float32Array, k: number, ef: number): GraphHits {
    if (ef !== this.ef) {
      this.native.setEf(ef);
      this.ef = ef;
    }
    const { neighbors, distances } = this.native.searchKnn(Array.from(query), k);
    return { labels: neighbors, distances };
  }

  vector(label: number): Float32Array {
    return Float32Array.from(this.native.getPoint(label));
  }

  save(path: string): void {
    this.native.writeIndexSync(path);
  }

  /** hnswlib-node has no free: an index of one slot replaces the graph's memory. */
  free(): void {
    this.native.initIndex({ maxElements: 1, m: 2, efConstruction: 2 });
  }
}
