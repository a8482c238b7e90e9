// Recovering the memory spaces of a worker that died: each is loaded from its latest snapshot on
// the replacement worker, then the log records after that snapshot which the dead worker had
// indexed are queued again, ahead of anything queued for the space (its in-flight batches were
// already put back there). Upserts by id make the replay idempotent: nothing ends up twice.
import { performance } from 'node:perf_hooks';
import type { HnswConfig } from '../config/engine-config.js';
import type { Logger } from '../log.js';
import type { IndexSink, IngestQueue, QueuedObservation } from '../queue/ingest-queue.js';
import type { WalObservation } from '../wal/wal-record.js';
import type { SpaceSnapshot } from '../index/index-data.js';
import { parseShardKey, shardKeyOfId } from './shard-key.js';
import type { WorkerSlot } from './worker-slot.js';

/** Where recovery reads a space's durable state from (the engine's data directory). */
export interface SpaceStore {
  snapshotOf(space: string): SpaceSnapshot | null;
  /** The space's log records with afterLsn < LSN <= throughLsn, in order. */
  replay(space: string, afterLsn: number, throughLsn: number): AsyncIterable<WalObservation>;
}

export interface RecoveryDeps {
  store: SpaceStore | null;
  queue: IngestQueue;
  log: Logger;
  indexedLsn(space: string): number;
  key(): string;
  onReplayQueued(space: string, count: number): void;
  /** The space was loaded from a snapshot built with `hnsw` (null: no snapshot, built afresh). */
  onRestored(space: string, hnsw: HnswConfig | null): void;
}

/**
 * Counts replayed observations down as they are indexed; `done` resolves at zero. Replayed
 * records use their LSN as sequence number (they belong to no session).
 */
export class ReplaySink implements IndexSink {
  private left = 0;
  private sealed = false;
  private resolve!: () => void;
  readonly done = new Promise<void>((r) => {
    this.resolve = r;
  });

  add(n: number): void {
    this.left += n;
  }

  /** Call after the last `add`: from now on `done` resolves once nothing is outstanding. */
  seal(): void {
    this.sealed = true;
    this.check();
  }

  indexed(first: number, last: number): void {
    this.left -= last - first + 1;
    this.check();
  }

  failed(): void {
    this.left--;
    this.check();
  }

  /** Records indexed while more are still being read must not end the wait early. */
  private check(): void {
    if (this.sealed && this.left <= 0) this.resolve();
  }
}

export function replayItem(record: WalObservation, sink: IndexSink, now: number): QueuedObservation {
  return {
    space: record.space, id: record.id, sequence: record.lsn, sink, vector: record.vector,
    content: record.content, metadata: record.metadata, acceptedAt: now, lsn: record.lsn,
  };
}

/** Restores each space on `slot`; the map says when each space's replayed records are indexed. */
export async function recoverSpaces(slot: WorkerSlot, spaces: string[], deps: RecoveryDeps): Promise<Map<string, Promise<void>>> {
  const indexed = new Map<string, Promise<void>>();
  for (const space of spaces) {
    try {
      indexed.set(space, (await recoverSpace(slot, space, deps)).indexed);
    } catch (e) {
      deps.log.error('memory space recovery failed', { space, worker: slot.id, error: e instanceof Error ? e.message : String(e) });
      indexed.set(space, Promise.resolve());
    }
  }
  return indexed;
}

/**
 * Restores one index (a space's, or one shard's); `indexed` resolves once its replayed records
 * are indexed. Only the records of its own ids are replayed: they go back to the head of the
 * space's queue and from there to this shard alone.
 */
async function recoverSpace(slot: WorkerSlot, index: string, deps: RecoveryDeps): Promise<{ indexed: Promise<void> }> {
  const { space, count } = parseShardKey(index);
  const through = deps.indexedLsn(index);
  if (!deps.store) {
    deps.log.error('memory space lost with its worker: the engine runs without a data directory', { space: index, worker: slot.id });
    return { indexed: Promise.resolve() };
  }
  const snapshot = deps.store.snapshotOf(index);
  if (snapshot) {
    const key = deps.key();
    const reply = await slot.request({ type: 'restore', key, space: index, files: snapshot.files, hnsw: snapshot.hnsw, lsn: snapshot.lsn });
    if (reply.type === 'requestFailed') throw new Error(`restore from snapshot failed: ${reply.reason}`);
  }
  deps.onRestored(index, snapshot?.hnsw ?? null);
  const sink = new ReplaySink();
  const items: QueuedObservation[] = [];
  const now = performance.now();
  for await (const record of deps.store.replay(space, snapshot?.lsn ?? 0, through)) {
    if (shardKeyOfId(space, record.id, count) === index) items.push(replayItem(record, sink, now));
  }
  sink.add(items.length);
  sink.seal();
  deps.queue.pushFront(space, items);
  deps.onReplayQueued(space, items.length);
  deps.log.info('memory space recovered on a new worker', { space: index, worker: slot.id, snapshotLsn: snapshot?.lsn ?? 0, replayed: items.length });
  return { indexed: sink.done };
}
