// The memory baseline for `npm run bench:memory`, run as a process of its own (forked by it, with
// the engine's allocator settings): hnswlib-node alone, no engine, building the same number of
// indexes with the same M, efConstruction, metric and dimension, each sized exactly for what it
// holds (no growth by doubling). What the indexes cost before their first vector (hnswlib's label
// locks, its visited-list pool) and what each vector then adds to the resident set are the least
// any engine built on hnswlib-node can need; the parent turns them into the most vectors a limit
// can hold.
import { readFileSync } from 'node:fs';
import { hnswlib } from '@engram/engine/hnswlib';
import { ClusteredVectors } from '@engram/engine/synthetic';

export interface RawMemoryPlan { spaces: number; perSpace: number; dimension: number; m: number; efConstruction: number }
export interface RawMemoryResult {
  vectors: number;
  /** Resident bytes the empty indexes added, all of them together. */
  emptyIndexBytes: number;
  /** Resident bytes each vector then added. */
  bytesPerVector: number;
}

/** The resident set of this process, in bytes (VmRSS). */
function residentBytes(): number {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) * 1024;
}

function build(plan: RawMemoryPlan): RawMemoryResult {
  const vectors = new ClusteredVectors({ dimension: plan.dimension }).take(4096);
  const point = new Array<number>(plan.dimension).fill(0);
  const residentBefore = residentBytes();
  const indexes = Array.from({ length: plan.spaces }, () => {
    const index = new hnswlib.HierarchicalNSW('cosine', plan.dimension);
    index.initIndex({ maxElements: plan.perSpace, m: plan.m, efConstruction: plan.efConstruction });
    return index;
  });
  const residentEmpty = residentBytes();
  indexes.forEach((index, s) => {
    for (let i = 0; i < plan.perSpace; i++) {
      const v = vectors[(s * 977 + i) % vectors.length]!;
      for (let d = 0; d < plan.dimension; d++) point[d] = v[d] as number;
      index.addPoint(point, i);
    }
  });
  const count = plan.spaces * plan.perSpace;
  return { vectors: count, emptyIndexBytes: residentEmpty - residentBefore, bytesPerVector: (residentBytes() - residentEmpty) / count };
}

process.once('message', (plan: RawMemoryPlan) => {
  process.send!(build(plan), () => process.exit(0));
});
