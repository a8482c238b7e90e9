// The baseline the engine is measured against: hnswlib's addPoint (the build the engine runs, see
// @engram/engine/hnswlib) on the same data, in one thread and in N threads each with its own index
// (the hardware ceiling for N workers).
import { hnswlib } from '@engram/engine/hnswlib';
import { Worker } from 'node:worker_threads';

/** Inserts/s building one index of all `vectors` (concatenated) in this thread. */
export function rawInsertRate(vectors: Float32Array, dimension: number, m: number, efConstruction: number): number {
  const count = vectors.length / dimension;
  const index = new hnswlib.HierarchicalNSW('cosine', dimension);
  index.initIndex({ maxElements: count, m, efConstruction });
  const point = new Array<number>(dimension).fill(0);
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    for (let d = 0; d < dimension; d++) point[d] = vectors[i * dimension + d] as number;
    index.addPoint(point, i);
  }
  return count / ((performance.now() - started) / 1000);
}

/** Total inserts/s of `threads` worker threads, each building its own index of its share. */
export async function rawParallelRate(vectors: Float32Array, dimension: number, threads: number, m: number, efConstruction: number): Promise<number> {
  const share = Math.floor(vectors.length / dimension / threads) * dimension;
  const rates = await Promise.all(Array.from({ length: threads }, (_, t) => new Promise<number>((resolve, reject) => {
    const worker = new Worker(new URL('./raw-hnsw-worker.js', import.meta.url), {
      workerData: { vectors: vectors.slice(t * share, (t + 1) * share), dimension, m, efConstruction },
    });
    worker.once('message', (rate: number) => {
      resolve(rate);
      void worker.terminate();
    });
    worker.once('error', reject);
  })));
  return rates.reduce((a, b) => a + b, 0);
}
