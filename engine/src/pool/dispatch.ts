// Dispatch: feeding each worker batches of its spaces' queued observations, sized by the adaptive
// rule, round-robin over the spaces it owns, at most PIPELINE_DEPTH batches at a time; and
// reporting each finished batch to the acknowledgement side. A space being placed on a worker gets
// nothing until it is placed; a small batch lingers up to idleSleepMs for more.
import { performance } from 'node:perf_hooks';
import type { EngineConfig } from '../config/engine-config.js';
import type { EngineMetrics } from '../metrics/engine-metrics.js';
import { adaptiveBatchSize } from '../queue/adaptive-batch.js';
import type { IngestQueue, QueuedObservation } from '../queue/ingest-queue.js';
import type { FromWorker } from '../worker/messages.js';
import type { Ownership } from './ownership.js';
import type { WorkerSlot } from './worker-slot.js';
import type { Workers } from './workers.js';

/** Batches a worker may hold at once: one being indexed, one waiting, so it never idles between. */
const PIPELINE_DEPTH = 2;

export interface BatchOutcome {
  space: string;
  items: QueuedObservation[];
  failures: Array<{ index: number; reason: string }>;
  spaceSize: number;
}

/** Where finished batches go: the side that acknowledges them to the sessions that accepted them. */
export interface IndexedBatchSink {
  batchIndexed(outcome: BatchOutcome): void;
}

export interface DispatchDeps {
  workers: Workers;
  ownership: Ownership;
  queue: IngestQueue;
  metrics: EngineMetrics;
  config(): EngineConfig;
  acks: IndexedBatchSink;
  /** A batch of the space is about to be indexed (the rebuild scheduler learns new spaces). */
  beforeBatch(space: string): void;
  /** Runs after each round of dispatch (work stealing looks for idle workers then). */
  afterPump(): void;
}

interface InFlightBatch {
  slot: WorkerSlot;
  space: string;
  items: QueuedObservation[];
  /** Highest log sequence number among the items. */
  lastLsn: number;
}

export class Dispatcher {
  private readonly inFlight = new Map<number, InFlightBatch>();
  private readonly rrCursor = new Map<number, number>();
  private nextBatchId = 1;
  private pumpScheduled = false;
  private lingerTimer: NodeJS.Timeout | null = null;
  private drainWaiters: Array<() => void> = [];

  constructor(private readonly deps: DispatchDeps) {}

  /** Dispatches at the next turn of the event loop (once, however often it is asked). */
  schedule(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    for (const slot of this.deps.workers.live()) {
      while (slot.inFlight < PIPELINE_DEPTH && this.dispatchOne(slot)) { /* keep the pipeline full */ }
    }
    // Every finished batch schedules a pump, so the last one to leave the engine is seen here.
    if (this.isDrained) this.resolveDrained();
    this.deps.afterPump();
  }

  /** Resolves once nothing is queued and no batch is in flight. */
  drained(): Promise<void> {
    if (this.isDrained) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private get isDrained(): boolean {
    return this.deps.queue.depth === 0 && this.inFlight.size === 0;
  }

  private resolveDrained(): void {
    const waiting = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiting) resolve();
  }

  /** Sends the next batch to `slot`, round-robin over its spaces; false when there is nothing to send. */
  private dispatchOne(slot: WorkerSlot): boolean {
    const { queue, ownership } = this.deps;
    const spaces = ownership.spacesOf(slot.id).filter((s) => !ownership.isPlacing(s) && queue.depthOf(s) > 0);
    if (spaces.length === 0) return false;
    const cursor = (this.rrCursor.get(slot.id) ?? 0) % spaces.length;
    this.rrCursor.set(slot.id, cursor + 1);
    const space = spaces[cursor] as string;
    const { min, max } = this.deps.config().batch;
    if (slot.inFlight === 0 && queue.depthOf(space) < min && this.lingering(space)) return false;
    this.send(slot, space, queue.take(space, adaptiveBatchSize(queue.depth, queue.observationCapacity, min, max)));
    return true;
  }

  /** True while a small batch should wait up to idleSleepMs for more (then a timer pumps again). */
  private lingering(space: string): boolean {
    const oldest = this.deps.queue.oldest(space);
    const wait = oldest ? oldest.acceptedAt + this.deps.config().idleSleepMs - performance.now() : 0;
    if (wait <= 0) return false;
    if (!this.lingerTimer) {
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = null;
        this.pump();
      }, Math.ceil(wait));
    }
    return true;
  }

  private send(slot: WorkerSlot, space: string, items: QueuedObservation[]): void {
    const dim = this.deps.config().hnsw.dimension;
    const vectors = new Float32Array(items.length * dim);
    const now = performance.now();
    items.forEach((o, i) => {
      vectors.set(o.vector, i * dim);
      this.deps.metrics.queueWait.observe({ priority: 'normal' }, (now - o.acceptedAt) / 1000);
    });
    this.deps.beforeBatch(space);
    const batchId = this.nextBatchId++;
    let lastLsn = 0;
    for (const o of items) if (o.lsn > lastLsn) lastLsn = o.lsn;
    this.inFlight.set(batchId, { slot, space, items, lastLsn });
    slot.batchPosted(space);
    slot.post({
      type: 'batch', batchId, space, vectors,
      ids: items.map((o) => o.id), contents: items.map((o) => o.content), metadata: items.map((o) => o.metadata), lastLsn,
    }, [vectors.buffer]);
  }

  batchDone(slot: WorkerSlot, message: Extract<FromWorker, { type: 'batchDone' }>): void {
    const batch = this.inFlight.get(message.batchId);
    if (!batch || batch.slot !== slot) return;
    this.inFlight.delete(message.batchId);
    this.deps.ownership.noteIndexed(batch.space, batch.lastLsn);
    slot.batches++;
    slot.indexed += batch.items.length - message.failures.length;
    const worker = String(slot.id);
    const { metrics } = this.deps;
    metrics.batches.inc({ worker_id: worker });
    metrics.batchSize.observe({ worker_id: worker }, batch.items.length);
    if (message.failures.length > 0) metrics.batchFailures.inc({ worker_id: worker, error_type: 'index' }, message.failures.length);
    this.deps.acks.batchIndexed({ space: batch.space, items: batch.items, failures: message.failures, spaceSize: message.spaceSize });
    // After the acknowledgement: a move waiting for this space's batches must not overtake it.
    slot.batchSettled(batch.space);
    this.schedule();
  }

  /** Puts the batches a dead worker held back at the head of their spaces' queues, in order. */
  requeueFrom(dead: WorkerSlot): void {
    const lost = [...this.inFlight.entries()].filter(([, b]) => b.slot === dead).sort(([a], [b]) => b - a);
    for (const [batchId, batch] of lost) {
      this.inFlight.delete(batchId);
      this.deps.queue.pushFront(batch.space, batch.items);
    }
  }

  /** Observations of the space in batches its worker is indexing now. */
  inFlightItems(space: string): QueuedObservation[] {
    return [...this.inFlight.values()].filter((b) => b.space === space).flatMap((b) => b.items);
  }

  close(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
  }
}
