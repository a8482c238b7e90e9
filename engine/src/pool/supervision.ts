// Supervision: a dead worker's in-flight batches go back to the head of their spaces' queues, a
// new worker takes its place, and each of its spaces is restored from its snapshot and the log
// records after it. Dispatch of those spaces waits until they are restored, recalls until their
// replayed records are indexed.
import type { HnswConfig } from '../config/engine-config.js';
import type { Logger } from '../log.js';
import type { IngestQueue } from '../queue/ingest-queue.js';
import type { Dispatcher } from './dispatch.js';
import type { Ownership } from './ownership.js';
import { recoverSpaces, type SpaceStore } from './space-recovery.js';
import type { WorkerSlot } from './worker-slot.js';
import type { Workers } from './workers.js';

const RESTART_RETRY_MS = 1000;

export interface SupervisionDeps {
  workers: Workers;
  ownership: Ownership;
  dispatcher: Dispatcher;
  queue: IngestQueue;
  /** Snapshots and the log, to recover a dead worker's spaces (null: no data directory). */
  store: SpaceStore | null;
  log: Logger;
  /** A worker died; it is being replaced and its spaces recovered. */
  onWorkerFailed(workerId: number, error: Error): void;
  /** Log records of a recovering space were queued again (they count as pending). */
  onReplayQueued(space: string, count: number): void;
  /** The space was restored from a snapshot built with `hnsw` (null: no snapshot). */
  onRestored(space: string, hnsw: HnswConfig | null): void;
  /** Every space of the dead worker is restored (rebuilds may go on). */
  onRecovered(): void;
  /** An index nothing needs recovered: a reshard's new shard not switched to (the reshard gives it up). */
  abandoned(key: string): boolean;
}

export class Supervisor {
  private restarting = 0;
  private nextKey = 1;
  private closing = false;

  constructor(private readonly deps: SupervisionDeps) {}

  /** Workers being replaced after a failure (the engine is not ready meanwhile). */
  get workersRestarting(): number {
    return this.restarting;
  }

  workerFailed(dead: WorkerSlot, error: Error): void {
    if (this.closing || dead.retiring) return;
    const { dispatcher, ownership } = this.deps;
    this.deps.onWorkerFailed(dead.id, error);
    dispatcher.requeueFrom(dead);
    const spaces: string[] = [];
    for (const key of ownership.keysOf(dead.id)) {
      if (this.deps.abandoned(key)) ownership.forget(key);
      else spaces.push(key);
    }
    this.restarting++;
    const restored = this.replace(dead).then((fresh) => recoverSpaces(fresh, spaces, {
      store: this.deps.store, queue: this.deps.queue, log: this.deps.log,
      indexedLsn: (space) => ownership.indexedLsn(space),
      key: () => `recover:${this.nextKey++}`,
      onReplayQueued: this.deps.onReplayQueued,
      onRestored: this.deps.onRestored,
    }));
    for (const space of spaces) ownership.beginRecovery(space, restored.then(() => undefined), restored.then((r) => r.get(space)));
    void restored.finally(() => {
      this.restarting--;
      this.deps.onRecovered();
      dispatcher.schedule();
    });
  }

  private async replace(dead: WorkerSlot): Promise<WorkerSlot> {
    const { workers, log } = this.deps;
    for (;;) {
      const fresh = workers.spawn(dead.id);
      try {
        await fresh.ready;
        workers.replace(fresh);
        log.info('worker restarted', { worker: dead.id });
        return fresh;
      } catch (e) {
        log.error('worker restart failed; trying again', { worker: dead.id, error: String(e) });
        await new Promise((r) => setTimeout(r, RESTART_RETRY_MS));
      }
    }
  }

  close(): void {
    this.closing = true;
  }
}
