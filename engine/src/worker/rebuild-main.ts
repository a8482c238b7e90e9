// A rebuild thread: reads a copy of a space's graph (built with the index's old config), inserts
// every stored vector into a new graph built with the new one (other M / ef_construction, backend
// or quantization; same labels), and writes it out. It runs at low priority beside the index
// workers, which keep indexing and answering recalls from the old graph.
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { createGraph, loadGraph } from '../index/vector-graph.js';
import type { RebuildJob, RebuildProgress } from '../pool/index-rebuild.js';

const STEP = 1000;

const job = workerData as RebuildJob;
try {
  setPriority(job.nice);
} catch {
  // not permitted here: run at normal priority
}
const source = loadGraph(job.source, job.sourcePath);
const total = source.count;
const target = createGraph(job.target, total);
const report = (done: number): void => parentPort?.postMessage({ done, total } satisfies RebuildProgress);
const dim = job.target.dimension;
for (let from = 0; from < total; from += STEP) {
  const labels = Uint32Array.from({ length: Math.min(STEP, total - from) }, (_, i) => from + i);
  const vectors = new Float32Array(labels.length * dim);
  labels.forEach((label, i) => vectors.set(source.vector(label), i * dim));
  target.upsert(labels, vectors, 1);
  report(from + labels.length);
}
target.save(job.targetPath);
report(total);
