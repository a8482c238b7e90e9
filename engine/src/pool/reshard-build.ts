// Building a space's new shard layout from copies of its old shards, in a background thread
// (worker/reshard-main.ts builds the graphs; the ids, contents and metadata are split here in the
// same order, so label i of a new graph is entry i of its state).
import { runBackgroundThread } from './background-thread.js';
import type { HnswConfig } from '../config/engine-config.js';
import type { SpaceState } from '../index/index-data.js';
import { shardOfId } from './shard-key.js';

export interface ReshardJob {
  /** Each old shard's graph copy, the config it was built with, and its ids by label. */
  sources: Array<{ graphPath: string | null; hnsw: HnswConfig; ids: string[] }>;
  /** Where each new shard's graph goes (written only for a shard that gets vectors). */
  targets: string[];
  /** How many vectors each new shard gets (its graph is sized for them). */
  sizes: number[];
  /** What the new shards are built with. */
  hnsw: HnswConfig;
  nice: number;
}

export interface ReshardProgress {
  done: number;
  total: number;
}

/** An old shard's copy: its graph file (null when it is empty) and its state. */
export interface ShardCopy {
  graphPath: string | null;
  state: SpaceState | null;
}

/** A new shard: its graph file (null when no vector went to it) and the state that goes with it. */
export interface BuiltShard {
  graphPath: string | null;
  state: SpaceState;
}

/**
 * Builds `targets.length` shards from the old ones. Each new shard's LSN is the lowest of the old
 * shards': every record of its ids up to there is in an old shard's copy, so in it.
 */
export async function buildLayout(sources: ShardCopy[], targets: string[], hnsw: HnswConfig, nice: number, onProgress: (p: ReshardProgress) => void, script?: URL): Promise<BuiltShard[]> {
  const lsn = Math.min(...sources.map((s) => s.state?.lsn ?? 0));
  const states: SpaceState[] = targets.map(() => ({ hnsw, ids: [], contents: [], metadata: [], lsn }));
  for (const { state } of sources) {
    state?.ids.forEach((id, label) => {
      const target = states[shardOfId(id, targets.length)] as SpaceState;
      target.ids.push(id);
      target.contents.push(state.contents[label] as string);
      target.metadata.push(state.metadata[label] ?? null);
    });
  }
  await runThread({
    sources: sources.map((s) => ({ graphPath: s.graphPath, hnsw: s.state?.hnsw ?? hnsw, ids: s.state?.ids ?? [] })), targets, sizes: states.map((s) => s.ids.length),
    hnsw, nice,
  }, onProgress, script);
  return states.map((state, i) => ({ graphPath: state.ids.length > 0 ? targets[i] as string : null, state }));
}

function runThread(job: ReshardJob, onProgress: (p: ReshardProgress) => void, script?: URL): Promise<void> {
  return runBackgroundThread(script ?? new URL('../worker/reshard-main.js', import.meta.url), job, onProgress, 'reshard');
}
