// The approximate-nearest-neighbour graph under a memory space's index, whichever library builds
// it (hnsw.backend): hnswlib-node (the default) or usearch (half precision, multi-threaded
// inserts). A graph knows vectors only by label (0, 1, 2, ... in insertion order); the ids,
// contents and metadata around them are the SpaceIndex's. The pool, durability, stealing, shards
// and recalls go through SpaceIndex and never see which library holds the vectors.
import { graphKind, type HnswConfig } from '../config/engine-config.js';
import { HnswlibGraph } from './hnswlib-graph.js';
import { UsearchGraph } from './usearch-graph.js';

export interface GraphHits {
  labels: ArrayLike<number>;
  distances: ArrayLike<number>;
}

export interface VectorGraph {
  /** Vectors held. */
  readonly count: number;
  /**
   * Inserts or replaces the vector of each label (distinct labels): `labels[i]`'s vector is
   * `vectors[i * dimension ..]`. `threads` > 1 lets a backend that can insert on several
   * threads at once do so (hnswlib inserts on the caller's thread whatever it is).
   */
  upsert(labels: Uint32Array, vectors: Float32Array, threads: number): void;
  /** The k nearest labels, nearest first, searched with `ef` candidates. */
  search(query: Float32Array, k: number, ef: number): GraphHits;
  /** The stored vector of a label (as the graph holds it: normalised for cosine in hnswlib, rounded in f16). */
  vector(label: number): Float32Array;
  /** Writes the graph to a file that `loadGraph` reads with the same config. */
  save(path: string): void;
  /**
   * Frees the native memory now. Neither library tells V8 how much a graph holds, so an
   * unreachable graph waits for a collection that a worker's small heap may not need for minutes:
   * measured, a worker that had handed three spaces away kept their graphs (25 MB each at 5,000
   * vectors) resident to the end of the run. The graph is unusable afterwards.
   */
  free(): void;
}

/** An empty graph with room for `capacity` vectors (it grows by doubling). */
export function createGraph(hnsw: HnswConfig, capacity: number): VectorGraph {
  return graphKind(hnsw).backend === 'usearch' ? UsearchGraph.create(hnsw, capacity) : HnswlibGraph.create(hnsw, capacity);
}

/** A graph written by `save` with the same backend and quantization. */
export function loadGraph(hnsw: HnswConfig, path: string): VectorGraph {
  return graphKind(hnsw).backend === 'usearch' ? UsearchGraph.load(hnsw, path) : HnswlibGraph.load(hnsw, path);
}

/**
 * Bytes a vector takes in a graph, and in its file: the vector at its precision, the level-0
 * links (2M of 4 bytes in hnswlib; usearch keeps M links of 4 bytes per level with a small
 * header, most nodes only on level 0) and the label. hnswlib measured 3,221 a vector at 768
 * dimensions, M 16 (a 12,000-vector file).
 */
export function graphBytesPerVector(hnsw: Pick<HnswConfig, 'dimension' | 'm' | 'backend' | 'quantization'>): number {
  const { backend, quantization } = graphKind(hnsw);
  const scalarBytes = quantization === 'f16' ? 2 : 4;
  const links = backend === 'usearch' ? (2 * hnsw.m + 2) * 4 + 16 : (2 * hnsw.m + 1) * 4 + 8;
  return hnsw.dimension * scalarBytes + links;
}
