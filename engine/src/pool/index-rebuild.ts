// Rebuilding one memory space's index with new HNSW parameters, in the background:
//   1. its worker writes a copy of the graph and starts remembering which labels change;
//   2. a rebuild thread builds a new graph from the copy's vectors with the new M / ef_construction;
//   3. its worker loads the new graph, replays the changed labels into it and swaps it in, all in one
//      message, so a recall sees either the old graph or the new one, never a mix.
// Indexing and recalls go on against the old graph throughout; nothing is refused.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { HnswConfig, Metric } from '../config/engine-config.js';
import type { SpaceReport, ToWorker } from './messages.js';

export interface RebuildJob {
  sourcePath: string;
  targetPath: string;
  metric: Metric;
  dimension: number;
  m: number;
  efConstruction: number;
  nice: number;
}

export interface RebuildProgress {
  done: number;
  total: number;
}

export interface RebuildDeps {
  scratchDir: string;
  /** Sends a keyed request to the space's owner and resolves with its report. */
  request(space: string, build: (key: string) => ToWorker): Promise<SpaceReport>;
  post(space: string, message: ToWorker): void;
  onProgress(space: string, ratio: number): void;
  nice: number;
  script?: URL;
}

let nextRebuild = 1;

export async function rebuildSpace(space: string, hnsw: HnswConfig, deps: RebuildDeps): Promise<SpaceReport> {
  const stem = join(deps.scratchDir, `rebuild-${process.pid}-${nextRebuild++}-${space}`);
  const sourcePath = `${stem}.old.hnsw`;
  const targetPath = `${stem}.new.hnsw`;
  try {
    const copy = await deps.request(space, (key) => ({ type: 'rebuildBegin', key, space, path: sourcePath }));
    try {
      await runRebuildThread({
        sourcePath, targetPath, metric: copy.hnsw.metric, dimension: copy.hnsw.dimension,
        m: hnsw.m, efConstruction: hnsw.efConstruction, nice: deps.nice,
      }, (p) => deps.onProgress(space, p.total === 0 ? 1 : p.done / p.total), deps.script);
    } catch (e) {
      deps.post(space, { type: 'rebuildAbandon', space });
      throw e;
    }
    return await deps.request(space, (key) => ({ type: 'rebuildSwap', key, space, path: targetPath, hnsw }));
  } finally {
    rmSync(sourcePath, { force: true });
    rmSync(targetPath, { force: true });
  }
}

function runRebuildThread(job: RebuildJob, onProgress: (p: RebuildProgress) => void, script?: URL): Promise<void> {
  return new Promise((resolve, reject) => {
    const thread = new Worker(script ?? new URL('../worker/rebuild-main.js', import.meta.url), { workerData: job });
    thread.on('message', onProgress);
    thread.once('error', reject);
    thread.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`rebuild thread exited with code ${code}`))));
  });
}
