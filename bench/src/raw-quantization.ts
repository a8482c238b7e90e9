// The libraries alone, no engine, one thread, the same data: hnswlib-node and usearch (its own
// npm binding, as the issue that proposed it measured) at f32, f16 and i8 — inserts/s, search
// p50 / p99 and recall@10 against an exact search. This is where i8's recall is measured: the
// engine does not offer it (docs/engine-design.md, Index backends).
import { hnswlib } from '@engram/engine/hnswlib';
import { createRequire } from 'node:module';
import { quantile } from './quantiles.js';

export interface RawRow { index: string; insertsPerSecond: number; p50: number; p99: number; recallAt10: number }

const K = 10;
const M = 16;
const EF_CONSTRUCTION = 200;
const EF = 64;

interface Built { insertsPerSecond: number; search(query: Float32Array): number[] }

function hnswlibIndex(vectors: Float32Array[]): Built {
  const dimension = vectors[0]!.length;
  const index = new hnswlib.HierarchicalNSW('cosine', dimension);
  index.initIndex({ maxElements: vectors.length, m: M, efConstruction: EF_CONSTRUCTION });
  const started = performance.now();
  vectors.forEach((v, i) => index.addPoint(Array.from(v), i));
  const seconds = (performance.now() - started) / 1000;
  index.setEf(EF);
  return { insertsPerSecond: vectors.length / seconds, search: (q) => index.searchKnn(Array.from(q), K).neighbors };
}

// the package's ES module entry cannot find its binary (it searches from the file system root); its CommonJS entry can
const { Index, MetricKind, ScalarKind } = createRequire(import.meta.url)('usearch') as typeof import('usearch');
const SCALARS = { f32: ScalarKind.F32, f16: ScalarKind.F16, i8: ScalarKind.I8 };

function usearchIndex(vectors: Float32Array[], quantization: 'f32' | 'f16' | 'i8'): Built {
  const index = new Index({
    dimensions: vectors[0]!.length, metric: MetricKind.Cos, quantization: SCALARS[quantization],
    connectivity: M, expansion_add: EF_CONSTRUCTION, expansion_search: EF, multi: false,
  });
  const started = performance.now();
  vectors.forEach((v, i) => index.add(BigInt(i), v, 1));
  const seconds = (performance.now() - started) / 1000;
  return { insertsPerSecond: vectors.length / seconds, search: (q) => Array.from(index.search(q, K, 1).keys, Number) };
}

function measure(label: string, built: Built, queries: Float32Array[], truth: Array<Set<number>>): RawRow {
  const ms: number[] = [];
  let found = 0;
  queries.forEach((q, i) => {
    const started = performance.now();
    const labels = built.search(q);
    ms.push(performance.now() - started);
    found += labels.filter((l) => truth[i]!.has(l)).length;
  });
  return { index: label, insertsPerSecond: built.insertsPerSecond, p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), recallAt10: found / (queries.length * K) };
}

export function rawQuantization(vectors: Float32Array[], queries: Float32Array[], truth: Array<Set<number>>): RawRow[] {
  return [
    measure('hnswlib-node f32', hnswlibIndex(vectors), queries, truth),
    ...(['f32', 'f16', 'i8'] as const).map((q) => measure(`usearch ${q}`, usearchIndex(vectors, q), queries, truth)),
  ];
}
