// Recall quality against the truth: each query's k nearest by exhaustive cosine search over the
// vectors a space was filled with, and how many of them the engine's answer has (recall@k), with
// each recall's latency as the client saw it.
import type { EngramClient } from '@engram/engine/client';
import { quantile } from './quantiles.js';

/** The positions of each query's k nearest vectors by cosine similarity (the engine's default metric). */
export function exactNeighbours(vectors: Float32Array[], queries: Float32Array[], k: number): Array<Set<number>> {
  const unit = vectors.map(normalised);
  return queries.map((query) => {
    const q = normalised(query);
    const scored = unit.map((v, i) => [i, dot(v, q)] as const);
    return new Set(scored.sort((a, b) => b[1] - a[1]).slice(0, k).map(([i]) => i));
  });
}

export function normalised(v: Float32Array): Float32Array {
  const norm = Math.sqrt(dot(v, v)) || 1;
  return v.map((x) => x / norm);
}

export function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let d = 0; d < a.length; d++) sum += a[d]! * b[d]!;
  return sum;
}

/**
 * Recalls each query from `space` (filled by runLoad, whose ids end in the vector's position) one
 * at a time: latency p50 / p99 in ms and recall@k against `truth`.
 */
export async function measureRecall(client: EngramClient, space: string, queries: Float32Array[], truth: Array<Set<number>>, k: number): Promise<{ p50: number; p99: number; recallAtK: number }> {
  const ms: number[] = [];
  let found = 0;
  for (const [q, vector] of queries.entries()) {
    const sent = performance.now();
    const { hits } = await client.recall({ memorySpace: space, vector, k });
    ms.push(performance.now() - sent);
    found += hits.filter((h) => truth[q]!.has(Number(h.id.slice(h.id.lastIndexOf('-') + 1)))).length;
  }
  return { p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), recallAtK: found / (queries.length * k) };
}
