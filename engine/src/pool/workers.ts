// The pool's worker threads, by id: starting them, replacing one, growing and shrinking the set.
// What a worker reports (a batch done, a failure) goes to the handlers the pool gives.
import type { HnswConfig } from '../config/engine-config.js';
import type { EngineMetrics } from '../metrics/engine-metrics.js';
import type { FromWorker, ToWorker } from '../worker/messages.js';
import { IdleBoard } from '../worker/idle-board.js';
import { WorkerSlot } from './worker-slot.js';

export interface WorkerHandlers {
  batchDone(slot: WorkerSlot, message: Extract<FromWorker, { type: 'batchDone' }>): void;
  failed(slot: WorkerSlot, error: Error): void;
}

export interface WorkersOptions {
  hnsw(): HnswConfig;
  metrics: EngineMetrics;
  script: URL;
  handlers: WorkerHandlers;
}

export class Workers {
  private slots: WorkerSlot[] = [];
  /** Which workers are idle, shared with all of them (usearch inserts borrow idle cores). */
  private readonly board = IdleBoard.create();

  constructor(private readonly options: WorkersOptions) {}

  get count(): number {
    return this.slots.length;
  }

  all(): readonly WorkerSlot[] {
    return this.slots;
  }

  /** Workers that take new work: not failed, not retiring. */
  live(): WorkerSlot[] {
    return this.slots.filter((s) => !s.failure && !s.retiring);
  }

  get(id: number): WorkerSlot {
    const slot = this.slots[id];
    if (!slot) throw new Error(`no worker ${id}`);
    return slot;
  }

  /** The worker with this id, if there is one (none after close). */
  find(id: number): WorkerSlot | undefined {
    return this.slots[id];
  }

  async start(count: number): Promise<void> {
    this.slots = Array.from({ length: count }, (_, id) => this.spawn(id));
    await Promise.all(this.slots.map((s) => s.ready));
    this.options.metrics.workers.set(this.slots.length);
  }

  spawn(id: number): WorkerSlot {
    // Counters of rare events exist at 0 from the worker's start: increase() and rate() over a
    // series that appears with its first event miss that event, and alerts are built on them.
    const { metrics, handlers } = this.options;
    metrics.batchFailures.inc({ worker_id: String(id), error_type: 'index' }, 0);
    metrics.workStolen.inc({ worker_id: String(id) }, 0);
    metrics.workerRestarts.inc({ worker_id: String(id) }, 0);
    return new WorkerSlot(id, this.options.hnsw(), this.options.script, this.board,
      (slot, message) => handlers.batchDone(slot, message),
      (slot, error) => handlers.failed(slot, error),
      (quality) => {
        metrics.recallQualityHits.inc(quality.hits);
        metrics.recallQualityExpected.inc(quality.expected);
      });
  }

  /** Puts a started replacement in the place of the worker with its id. */
  replace(slot: WorkerSlot): void {
    this.slots[slot.id] = slot;
  }

  /** Starts workers up to `count` ids (the new ones own nothing yet). */
  async grow(count: number): Promise<void> {
    const current = this.slots.length;
    if (count <= current) return;
    const added = Array.from({ length: count - current }, (_, i) => this.spawn(current + i));
    await Promise.all(added.map((s) => s.ready));
    this.slots.push(...added);
    this.options.metrics.workers.set(this.slots.length);
  }

  /** Stops the worker with the highest id once it owes nothing (the caller moved its spaces away). */
  async retireLast(): Promise<void> {
    const last = this.slots[this.slots.length - 1];
    if (!last) return;
    await last.idle();
    await last.terminate();
    this.slots.pop();
    this.options.metrics.workers.set(this.slots.length);
  }

  broadcast(message: ToWorker): void {
    for (const slot of this.slots) slot.post(message);
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.terminate()));
    this.slots = [];
  }
}
