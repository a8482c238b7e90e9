// What an index hands out and takes in besides vectors: search hits, stored observations, the
// state that travels with a graph file, and where a snapshot's files are.
import type { HnswConfig } from '../config/engine-config.js';

export interface RecallHitData {
  id: string;
  distance: number;
  similarity: number;
  content: string;
  metadata: Record<string, string> | null;
}

/** One stored observation, looked up by id. */
export interface FetchedData {
  id: string;
  vector: Float32Array;
  content: string;
  metadata: Record<string, string> | null;
}

/** Everything a space's index needs besides the HNSW graph file, for moving it between workers. */
export interface SpaceState {
  hnsw: HnswConfig;
  ids: string[];
  contents: string[];
  metadata: Array<Record<string, string> | null>;
  /** Highest log sequence number the index holds. */
  lsn: number;
}

/** Where a snapshot's files go (or come from); the snapshot store names them. */
export interface SnapshotFiles {
  /** null for an empty space (no graph is written). */
  graphPath: string | null;
  statePath: string;
}

/** Where a snapshot is written (the graph file only if the space holds vectors). */
export type SnapshotTarget = SnapshotFiles & { graphPath: string };

/** A space's latest snapshot: its files, the parameters its graph was built with, its LSN. */
export interface SpaceSnapshot {
  files: SnapshotFiles;
  hnsw: HnswConfig;
  lsn: number;
}

/** The part of a batch an index inserts: row i of `vectors` is observation i. */
export interface BatchData {
  ids: string[];
  vectors: Float32Array;
  contents: string[];
  metadata: Array<Record<string, string> | null>;
}
