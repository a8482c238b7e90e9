// A rebuild thread: reads a copy of a space's graph, inserts every stored vector into a new graph
// built with the new M / ef_construction (same labels), and writes it out. It runs at low priority
// beside the index workers, which keep indexing and answering recalls from the old graph.
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { hnswlib } from '../index/hnswlib-addon.js';
import type { RebuildJob, RebuildProgress } from '../pool/index-rebuild.js';

const job = workerData as RebuildJob;
try {
  setPriority(job.nice);
} catch {
  // not permitted here: run at normal priority
}
const { HierarchicalNSW } = hnswlib;
const source = new HierarchicalNSW(job.metric, job.dimension);
source.readIndexSync(job.sourcePath);
const total = source.getCurrentCount();
const target = new HierarchicalNSW(job.metric, job.dimension);
target.initIndex({ maxElements: Math.max(total, 1), m: job.m, efConstruction: job.efConstruction });
const report = (done: number): void => parentPort?.postMessage({ done, total } satisfies RebuildProgress);
for (let label = 0; label < total; label++) {
  target.addPoint(source.getPoint(label), label);
  if (label % 1000 === 999) report(label + 1);
}
target.writeIndexSync(job.targetPath);
report(total);
