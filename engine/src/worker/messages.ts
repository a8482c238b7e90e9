// The messages between the pool (main thread) and its worker threads. Vectors travel as one
// transferred Float32Array per batch; metadata travels as plain objects (structured clone). Every
// request that expects an answer carries a key, and its answer carries the same key back.
import type { MessagePort } from 'node:worker_threads';
import type { HnswConfig } from '../config/engine-config.js';
import type { FetchedData, RecallHitData, SnapshotFiles, SnapshotTarget, SpaceState } from '../index/index-data.js';

/** What a space's worker reports after a snapshot, restore or rebuild step. */
export interface SpaceReport {
  space: string;
  size: number;
  lsn: number;
  hnsw: HnswConfig;
}

export type ToWorker =
  | { type: 'batch'; batchId: number; space: string; ids: string[]; vectors: Float32Array; contents: string[]; metadata: Array<Record<string, string> | null>; lastLsn: number }
  /** `measureQuality`: after answering, also search the space exactly and report recall@k (a `recallQuality`). */
  | { type: 'recall'; key: string; space: string; vector: Float32Array; k: number; ef: number; measureQuality: boolean }
  | { type: 'configure'; hnsw: HnswConfig }
  | { type: 'export'; key: string; space: string; path: string }
  | { type: 'import'; key: string; space: string; path: string; state: SpaceState | null }
  /** The new owner has the space: the old owner forgets it. */
  | { type: 'drop'; space: string }
  /** Requests answered by a `report` or `requestFailed` carrying the same key. */
  | { type: 'snapshot'; key: string; space: string; files: SnapshotTarget }
  | { type: 'restore'; key: string; space: string; files: SnapshotFiles; hnsw: HnswConfig; lsn: number }
  | { type: 'rebuildBegin'; key: string; space: string; path: string }
  | { type: 'rebuildSwap'; key: string; space: string; path: string; hnsw: HnswConfig }
  | { type: 'rebuildAbandon'; space: string }
  | { type: 'fetch'; key: string; space: string; ids: string[] }
  | { type: 'digest'; key: string; space: string }
  /** Stop at the next safe point (between two inserts): end the thread cleanly, or crash it (a drill). */
  | { type: 'exit' }
  | { type: 'crash' };

export type FromWorker =
  | { type: 'ready' }
  /** `borrowedMs`: time other workers' idle cores spent on this batch's insert threads. */
  | { type: 'batchDone'; batchId: number; space: string; busyMs: number; borrowedMs: number; spaceSize: number; failures: Array<{ index: number; reason: string }> }
  | { type: 'recallDone'; key: string; hits: RecallHitData[]; spaceSize: number; busyMs: number }
  | { type: 'recallFailed'; key: string; reason: string }
  /** A shadow recall: how many of the exact k nearest the HNSW answer found. */
  | { type: 'recallQuality'; hits: number; expected: number; busyMs: number }
  | { type: 'exported'; key: string; space: string; state: SpaceState | null; busyMs: number }
  | { type: 'imported'; key: string; space: string; spaceSize: number; busyMs: number }
  | { type: 'moveFailed'; key: string; space: string; step: 'export' | 'import'; reason: string }
  | { type: 'report'; key: string; report: SpaceReport; busyMs: number }
  | { type: 'requestFailed'; key: string; reason: string }
  | { type: 'fetched'; key: string; found: FetchedData[]; missing: string[] }
  | { type: 'digested'; key: string; count: number; checksum: string };

/** What a worker thread is started with. */
export interface WorkerData {
  /** The worker's end of its message channel (both directions; polled between inserts). */
  port: MessagePort;
  hnsw: HnswConfig;
  /** Nice value for the thread (0 = normal priority). */
  nice: number;
  /** The worker's id, and the board where every worker says whether it is idle (see idle-board.ts). */
  id: number;
  idleBoard: Int32Array;
}
