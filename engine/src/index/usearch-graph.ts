// hnsw.backend usearch: a graph of usearch's C++ index through the engine's own binding
// (native-src/usearch-graph, compiled at install against the usearch package's headers), at the
// precision hnsw.quantization names. Loaded only when a config asks for it.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { graphKind, type HnswConfig, type Metric } from '../config/engine-config.js';
import type { GraphHits, VectorGraph } from './vector-graph.js';

interface Native {
  reserve(members: number): void;
  upsert(labels: Uint32Array, vectors: Float32Array, threads: number): void;
  search(query: Float32Array, k: number, ef: number): [Uint32Array, Float32Array];
  get(label: number): Float32Array | null;
  save(path: string): void;
  load(path: string): void;
  size(): number;
  free(): void;
}
type NativeClass = new (dimension: number, metric: string, scalar: string, m: number, efConstruction: number, efSearch: number) => Native;

const ADDON = fileURLToPath(new URL('../../native/usearch-graph.node', import.meta.url));
const METRICS: Record<Metric, string> = { cosine: 'cos', l2: 'l2sq', ip: 'ip' };

let addon: { Graph: NativeClass } | null = null;

/** Why this engine cannot run usearch (its addon was not built at install), or null when it can. */
export function usearchUnavailable(): string | null {
  return existsSync(ADDON) ? null : `the usearch addon was not built at install (${ADDON} is missing; npm install builds it, see engine/scripts/build-usearch-addon.mjs)`;
}

function nativeClass(): NativeClass {
  const problem = usearchUnavailable();
  if (problem) throw new Error(problem);
  addon ??= createRequire(import.meta.url)(ADDON) as { Graph: NativeClass };
  return addon.Graph;
}

function open(hnsw: HnswConfig): Native {
  const Graph = nativeClass();
  return new Graph(hnsw.dimension, METRICS[hnsw.metric], graphKind(hnsw).quantization, hnsw.m, hnsw.efConstruction, hnsw.efSearch);
}

export class UsearchGraph implements VectorGraph {
  private constructor(private readonly native: Native, private readonly hnsw: HnswConfig) {}

  static create(hnsw: HnswConfig, capacity: number): UsearchGraph {
    const native = open(hnsw);
    native.reserve(Math.max(capacity, 1));
    return new UsearchGraph(native, hnsw);
  }

  static load(hnsw: HnswConfig, path: string): UsearchGraph {
    const native = open(hnsw);
    native.load(path);
    return new UsearchGraph(native, hnsw);
  }

  get count(): number {
    return this.native.size();
  }

  /**
   * Cosine vectors are stored normalised, as hnswlib stores them: a Fetch answers the same vector
   * whichever backend holds it, and f16 spends its precision on the direction.
   */
  upsert(labels: Uint32Array, vectors: Float32Array, threads: number): void {
    this.native.upsert(labels, this.hnsw.metric === 'cosine' ? normalised(vectors, this.hnsw.dimension, labels.length) : vectors, threads);
  }

  search(query: Float32Array, k: number, ef: number): GraphHits {
    const [labels, distances] = this.native.search(query, k, ef);
    return { labels, distances };
  }

  vector(label: number): Float32Array {
    const found = this.native.get(label);
    if (!found) throw new Error(`usearch holds no vector at label ${label}`);
    return found;
  }

  save(path: string): void {
    this.native.save(path);
  }

  free(): void {
    this.native.free();
  }
}

/** A copy of the first `count` rows of `vectors`, each scaled to unit length (a zero row stays zero). */
function normalised(vectors: Float32Array, dimension: number, count: number): Float32Array {
  const out = vectors.slice(0, count * dimension);
  for (let row = 0; row < count; row++) {
    const from = row * dimension;
    let sum = 0;
    for (let i = from; i < from + dimension; i++) sum += (out[i] as number) ** 2;
    const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    for (let i = from; i < from + dimension; i++) out[i] = (out[i] as number) * scale;
  }
  return out;
}
