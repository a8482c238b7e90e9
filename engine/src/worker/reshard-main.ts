// A reshard thread: reads copies of a space's shard graphs (its old layout, each loaded with the
// config it was built with) and builds the graphs of its new layout from them, each stored vector
// inserted into the new shard its id hashes to, in a fixed order (old shard by old shard, label by
// label) that the main thread repeats to split the ids, contents and metadata the same way. It
// runs at low priority beside the index workers, which keep indexing and answering recalls from
// the old layout.
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { createGraph, loadGraph } from '../index/vector-graph.js';
import { shardOfId } from '../pool/shard-key.js';
import type { ReshardJob, ReshardProgress } from '../pool/reshard-build.js';

const job = workerData as ReshardJob;
try {
  setPriority(job.nice);
} catch {
  // not permitted here: run at normal priority
}
const total = job.sizes.reduce((n, size) => n + size, 0);
const targets = job.sizes.map((size) => createGraph(job.hnsw, size));
const next = new Uint32Array(job.targets.length);
const report = (done: number): void => parentPort?.postMessage({ done, total } satisfies ReshardProgress);
let done = 0;
for (const source of job.sources) {
  if (source.ids.length === 0 || !source.graphPath) continue;
  const graph = loadGraph(source.hnsw, source.graphPath);
  source.ids.forEach((id, label) => {
    const shard = shardOfId(id, job.targets.length);
    targets[shard]!.upsert(Uint32Array.of(next[shard]!), graph.vector(label), 1);
    next[shard]! += 1;
    if (++done % 1000 === 0) report(done);
  });
  graph.free();
}
job.targets.forEach((path, i) => {
  if (job.sizes[i]! > 0) targets[i]!.save(path);
});
report(total);
