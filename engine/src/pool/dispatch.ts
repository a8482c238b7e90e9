// Dispatch: feeding each worker batches of its spaces' queued observations, sized by the adaptive
// rule, round-robin over the spaces it owns, at most PIPELINE_DEPTH batches at a time; and
// reporting each finished batch to the acknowledgement side. A batch of a space split into shards
// is split by the shard of each id, each part to its shard's worker, and acknowledged when every
// part is done (so acks stay in contiguous ranges, and in order). A space with a shard being
// placed on a worker gets nothing until it is placed; a small batch lingers up to idleSleepMs.
import { performance } from 'node:perf_hooks';
import type { EngineConfig } from '../config/engine-config.js';
import type { EngineMetrics } from '../metrics/engine-metrics.js';
import { adaptiveBatchSize } from '../queue/adaptive-batch.js';
import type { IngestQueue, QueuedObservation } from '../queue/ingest-queue.js';
import type { FromWorker } from '../worker/messages.js';
import type { Ownership } from './ownership.js';
import { groupBy } from './group-by.js';
import { parseShardKey } from './shard-key.js';
import type { ShardLayout } from './shard-layout.js';
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
  layout: ShardLayout;
  queue: IngestQueue;
  metrics: EngineMetrics;
  config(): EngineConfig;
  acks: IndexedBatchSink;
  /** A batch of the index is about to be indexed (the rebuild scheduler learns new indexes). */
  beforeBatch(key: string): void;
  /** Runs after each round of dispatch (work stealing looks for idle workers then). */
  afterPump(): void;
}

/** One batch taken from a space's queue: split into one part per shard, acknowledged when all are done. */
interface BatchGroup {
  space: string;
  items: QueuedObservation[];
  partsLeft: number;
  /** Why observations could not be indexed, by position in `items`. */
  failures: Map<number, string>;
  /** Positions lost with a dead worker: queued again, acknowledged by a later batch. */
  lost: Set<number>;
}

/** The part of a batch sent to one shard's worker. */
interface InFlightPart {
  slot: WorkerSlot;
  key: string;
  /** null for a copy sent to a space's next layout while it is resharded (acknowledged by the original). */
  group: BatchGroup | null;
  /** Settles a copy's wait (see copyTo). */
  copied?: { resolve(): void; reject(e: Error): void };
  /** Positions in the group's items. */
  positions: number[];
  /** Highest log sequence number among them. */
  lastLsn: number;
}

export class Dispatcher {
  private readonly inFlight = new Map<number, InFlightPart>();
  private readonly rrCursor = new Map<number, number>();
  private nextBatchId = 1;
  private pumpScheduled = false;
  private lingerTimer: NodeJS.Timeout | null = null;
  private drainWaiters: Array<() => void> = [];
  /** Spaces being resharded: every batch dispatched for them is also recorded here, in order. */
  private readonly captures = new Map<string, QueuedObservation[]>();
  /** Spaces whose batches wait (the switch to a new layout). */
  private readonly held = new Set<string>();

  constructor(private readonly deps: DispatchDeps) {}

  /**
   * From now on every observation dispatched for `space` is also appended to the returned list,
   * in dispatch order (a reshard applies them to the new layout).
   */
  capture(space: string): QueuedObservation[] {
    const captured: QueuedObservation[] = [];
    this.captures.set(space, captured);
    return captured;
  }

  stopCapture(space: string): void {
    this.captures.delete(space);
  }

  /** Stops dispatching the space's batches until `resume` (recalls go on). */
  hold(space: string): void {
    this.held.add(space);
  }

  resume(space: string): void {
    this.held.delete(space);
    this.schedule();
  }

  /**
   * Indexes observations into one index without acknowledging them to anyone (they were, or will
   * be, acknowledged by the layout that serves the space): a reshard's copy of what was written
   * while the new layout was built.
   */
  copyTo(key: string, items: QueuedObservation[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const batchId = this.post(key, items, null);
      this.inFlight.get(batchId)!.copied = { resolve, reject };
    });
  }

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

  /**
   * Sends the next batch of one of `slot`'s spaces, round-robin over them, split by shard; false
   * when there is nothing to send.
   */
  private dispatchOne(slot: WorkerSlot): boolean {
    const { queue, layout } = this.deps;
    // A worker dispatches the spaces it holds a shard of in their current layout (not a reshard's
    // next one): then each batch puts a part in its own pipeline, which bounds the loop in pump().
    const ready = new Set<string>();
    for (const key of this.deps.ownership.keysOf(slot.id)) {
      const { space, count } = parseShardKey(key);
      if (layout.countOf(space) === count && queue.depthOf(space) > 0 && !this.held.has(space) && !this.placing(space)) ready.add(space);
    }
    const spaces = [...ready];
    if (spaces.length === 0) return false;
    const cursor = (this.rrCursor.get(slot.id) ?? 0) % spaces.length;
    this.rrCursor.set(slot.id, cursor + 1);
    const space = spaces[cursor] as string;
    const { min, max } = this.deps.config().batch;
    if (slot.inFlight === 0 && queue.depthOf(space) < min && this.lingering(space)) return false;
    const before = slot.inFlight;
    this.send(space, queue.take(space, adaptiveBatchSize(queue.depth, queue.observationCapacity, min, max)));
    // A batch whose ids all hash to other shards left this worker's pipeline as it was: stop here.
    return slot.inFlight > before;
  }

  /** Whether any shard of the space is being placed (its batches wait: they are split over all shards). */
  private placing(space: string): boolean {
    return this.deps.layout.keysOf(space).some((key) => this.deps.ownership.isPlacing(key));
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

  /** Splits a batch by the shard of each id and sends each part to its shard's worker. */
  private send(space: string, items: QueuedObservation[]): void {
    const now = performance.now();
    for (const o of items) this.deps.metrics.queueWait.observe({ priority: 'normal' }, (now - o.acceptedAt) / 1000);
    const positions = items.map((_, i) => i);
    // A space not split is one part: no id is hashed on the way of most batches.
    const parts = this.deps.layout.countOf(space) === 1
      ? new Map([[space, positions]])
      : groupBy(positions, (i) => this.deps.layout.keyOf(space, (items[i] as QueuedObservation).id));
    const group: BatchGroup = { space, items, partsLeft: parts.size, failures: new Map(), lost: new Set() };
    for (const [key, part] of parts) this.post(key, part.map((p) => items[p] as QueuedObservation), { group, positions: part });
    this.captures.get(space)?.push(...items);
  }

  /** Posts a batch to the index's worker; returns its id. */
  private post(key: string, items: QueuedObservation[], of: { group: BatchGroup; positions: number[] } | null): number {
    const slot = this.deps.workers.get(this.deps.ownership.ownerOf(key));
    const dim = this.deps.config().hnsw.dimension;
    const vectors = new Float32Array(items.length * dim);
    let lastLsn = 0;
    items.forEach((o, i) => {
      vectors.set(o.vector, i * dim);
      if (o.lsn > lastLsn) lastLsn = o.lsn;
    });
    this.deps.beforeBatch(key);
    const batchId = this.nextBatchId++;
    this.inFlight.set(batchId, { slot, key, group: of?.group ?? null, positions: of?.positions ?? [], lastLsn });
    slot.batchPosted(key);
    slot.post({
      type: 'batch', batchId, space: key, vectors,
      ids: items.map((o) => o.id), contents: items.map((o) => o.content), metadata: items.map((o) => o.metadata), lastLsn,
    }, [vectors.buffer]);
    return batchId;
  }

  batchDone(slot: WorkerSlot, message: Extract<FromWorker, { type: 'batchDone' }>): void {
    const part = this.inFlight.get(message.batchId);
    if (!part || part.slot !== slot) return;
    this.inFlight.delete(message.batchId);
    const { ownership, metrics } = this.deps;
    ownership.noteIndexed(part.key, part.lastLsn);
    ownership.noteSize(part.key, message.spaceSize);
    slot.batches++;
    const worker = String(slot.id);
    metrics.batches.inc({ worker_id: worker });
    if (message.borrowedMs > 0) metrics.borrowedCoreSeconds.inc({ worker_id: worker }, message.borrowedMs / 1000);
    if (part.group) {
      for (const f of message.failures) part.group.failures.set(part.positions[f.index] as number, f.reason);
      slot.indexed += part.positions.length - message.failures.length;
      metrics.batchSize.observe({ worker_id: worker }, part.positions.length);
      if (message.failures.length > 0) metrics.batchFailures.inc({ worker_id: worker, error_type: 'index' }, message.failures.length);
      this.partSettled(part.group);
    } else {
      part.copied?.resolve();
    }
    // After the acknowledgement: a move waiting for this shard's batches must not overtake it.
    slot.batchSettled(part.key);
    this.schedule();
  }

  /** When the last part of a batch is done, acknowledges what it indexed (lost parts were queued again). */
  private partSettled(group: BatchGroup): void {
    if (--group.partsLeft > 0) return;
    const items: QueuedObservation[] = [];
    const failures: BatchOutcome['failures'] = [];
    group.items.forEach((item, i) => {
      if (group.lost.has(i)) return;
      const reason = group.failures.get(i);
      if (reason !== undefined) failures.push({ index: items.length, reason });
      items.push(item);
    });
    const spaceSize = this.deps.layout.keysOf(group.space).reduce((n, key) => n + this.deps.ownership.sizeOf(key), 0);
    if (items.length > 0) this.deps.acks.batchIndexed({ space: group.space, items, failures, spaceSize });
  }

  /** Puts the batch parts a dead worker held back at the head of their spaces' queues, in order. */
  requeueFrom(dead: WorkerSlot): void {
    const lost = [...this.inFlight.entries()].filter(([, p]) => p.slot === dead).sort(([a], [b]) => b - a);
    for (const [batchId, { group, positions, copied }] of lost) {
      this.inFlight.delete(batchId);
      if (!group) {
        copied?.reject(new Error(`worker ${dead.id} died while indexing a copy`));
        continue;
      }
      for (const p of positions) group.lost.add(p);
      this.deps.queue.pushFront(group.space, positions.map((p) => group.items[p] as QueuedObservation));
      this.partSettled(group);
    }
  }

  /** Observations of the space in batches its workers are indexing now. */
  inFlightItems(space: string): QueuedObservation[] {
    return [...this.inFlight.values()].flatMap(({ group, positions }) => (group?.space === space ? positions.map((i) => group.items[i] as QueuedObservation) : []));
  }

  close(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
  }
}
