// The worker pool: which worker owns which memory space (consistent-hash ring, overridden by
// steals), feeding each worker batches sized by the adaptive rule, routing recalls to the owner,
// and moving spaces between workers (on a worker-count change or a steal) without losing or
// reordering anything: a moving space is held back until its in-flight batches are done, its index
// is written by the old owner and read by the new one, then dispatch resumes. It also supervises
// the workers (a dead one is replaced and its spaces recovered), and takes snapshots and rebuilds
// of a space's index on the worker that owns it. Longer than our other files on purpose: dispatch,
// moves, recovery and recalls all read and write the same ownership state (owner, moving,
// recovering, in flight), and keeping that state machine in one place is what keeps it correct.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { EngineConfig, HnswConfig } from '../config/engine-config.js';
import { EngramError } from '../errors.js';
import type { Logger } from '../log.js';
import type { EngineMetrics } from '../metrics/engine-metrics.js';
import { adaptiveBatchSize } from '../queue/adaptive-batch.js';
import type { IngestQueue, QueuedObservation } from '../queue/ingest-queue.js';
import { chooseSteal, type WorkerLoad } from './balancer.js';
import { HashRing } from './hash-ring.js';
import type { FetchedData, FromWorker, RecallHitData, SnapshotFiles, SnapshotTarget, SpaceReport, ToWorker } from './messages.js';
import { RebuildScheduler, type RebuildStatus } from './index-rebuild.js';
import { recoverSpaces, type SpaceStore } from './space-recovery.js';
import { WorkerSlot } from './worker-slot.js';

/** Batches a worker may hold at once: one being indexed, one waiting, so it never idles between. */
const PIPELINE_DEPTH = 2;
/** A space that just moved is not stolen again for this long (an index move is not free). */
const STEAL_COOLDOWN_MS = 1000;
/** How soon placement is tried again after a space could not be moved to its ring owner. */
const PLACEMENT_RETRY_MS = 5000;

export interface BatchOutcome {
  space: string;
  items: QueuedObservation[];
  failures: Array<{ index: number; reason: string }>;
  spaceSize: number;
}

export interface PoolOptions {
  config: EngineConfig;
  queue: IngestQueue;
  metrics: EngineMetrics;
  scratchDir: string;
  onBatchIndexed(outcome: BatchOutcome): void;
  /** A worker died; it is being replaced and its spaces recovered. */
  onWorkerFailed(workerId: number, error: Error): void;
  /** Log records of a recovering space were queued again (they count as pending). */
  onReplayQueued(space: string, count: number): void;
  /** Snapshots and the log, to recover a dead worker's spaces (null: no data directory). */
  store: SpaceStore | null;
  log: Logger;
  /**
   * Whether a steal of `space` fits in memory now. A move holds two copies of the graph until the
   * old owner drops it, and passes it through a scratch file the page cache keeps (33 MiB seen for
   * one space): near a memory limit, more than the headroom.
   */
  canSteal?: (space: string) => boolean;
  workerScript?: URL;
}

interface InFlightBatch {
  slot: WorkerSlot;
  space: string;
  items: QueuedObservation[];
  /** Highest log sequence number among the items. */
  lastLsn: number;
}

export interface RecallResult {
  hits: RecallHitData[];
  spaceSize: number;
}

export class WorkerPool {
  private config: EngineConfig;
  /** Shares of a shadow recall accumulated (see sampleQuality). */
  private qualityCredit = 0;
  private slots: WorkerSlot[] = [];
  private ring!: HashRing;
  private readonly owner = new Map<string, number>();
  /** The same ownership indexed by worker, so dispatch never scans every space. */
  private readonly owned = new Map<number, Set<string>>();
  private readonly moving = new Map<string, Promise<void>>();
  private readonly movedAt = new Map<string, number>();
  private readonly inFlight = new Map<number, InFlightBatch>();
  private readonly drainWaiters = new Map<string, () => void>();
  /** Spaces of a restarted worker whose log records are still being indexed: recalls wait. */
  private readonly recovering = new Map<string, Promise<void>>();
  /** Highest log sequence number each space's worker reported indexed. */
  private readonly indexedLsn = new Map<string, number>();
  /** Rebuilds of indexes whose M / ef_construction differ from the config's. */
  private readonly rebuilds: RebuildScheduler;
  private restarting = 0;
  private closing = false;
  private nextKey = 1;
  private readonly script: URL;
  private nextBatchId = 1;
  private nextRequestId = 1;
  private nextMoveId = 1;
  private pumpScheduled = false;
  private lingerTimer: NodeJS.Timeout | null = null;
  private placementTimer: NodeJS.Timeout | null = null;
  private rrCursor = new Map<number, number>();

  constructor(private readonly options: PoolOptions) {
    this.config = options.config;
    this.script = options.workerScript ?? new URL('../worker/worker-main.js', import.meta.url);
    this.rebuilds = new RebuildScheduler({
      target: () => this.config.hnsw, settled: (space) => this.settled(space),
      request: (space, build) => this.requestOnOwner(space, build), post: (space, message) => this.postToOwner(space, message),
      scratchDir: options.scratchDir, metrics: options.metrics, log: options.log,
    });
  }

  get workerCount(): number {
    return this.slots.length;
  }

  async start(): Promise<void> {
    this.slots = Array.from({ length: this.config.workers }, (_, id) => this.spawn(id));
    this.ring = new HashRing(this.slots.map((s) => s.id));
    await Promise.all(this.slots.map((s) => s.ready));
    this.options.metrics.workers.set(this.slots.length);
  }

  private spawn(id: number): WorkerSlot {
    // Counters of rare events exist at 0 from the worker's start: increase() and rate() over a
    // series that appears with its first event miss that event, and alerts are built on them.
    const { metrics } = this.options;
    metrics.batchFailures.inc({ worker_id: String(id), error_type: 'index' }, 0);
    metrics.workStolen.inc({ worker_id: String(id) }, 0);
    metrics.workerRestarts.inc({ worker_id: String(id) }, 0);
    return new WorkerSlot(id, this.config.hnsw, this.script,
      (slot, message) => this.batchDone(slot, message),
      (slot, error) => this.workerFailed(slot, error),
      (quality) => {
        metrics.recallQualityHits.inc(quality.hits);
        metrics.recallQualityExpected.inc(quality.expected);
      });
  }

  /** Crashes a worker thread (a failure drill); false if there is no such live worker. */
  killWorker(id: number): boolean {
    const slot = this.slots[id];
    if (!slot || slot.failure || slot.retiring) return false;
    slot.crash();
    return true;
  }

  /** Workers being replaced after a failure (the engine is not ready meanwhile). */
  get workersRestarting(): number {
    return this.restarting;
  }

  /**
   * Supervision: a dead worker's in-flight batches go back to the head of their spaces' queues,
   * a new worker takes its place, and each of its spaces is restored from its snapshot and the log
   * records after it (dispatch and recalls of those spaces wait meanwhile).
   */
  private workerFailed(dead: WorkerSlot, error: Error): void {
    if (this.closing || dead.retiring) return;
    this.options.onWorkerFailed(dead.id, error);
    const lost = [...this.inFlight.entries()].filter(([, b]) => b.slot === dead).sort(([a], [b]) => b - a);
    for (const [batchId, batch] of lost) {
      this.inFlight.delete(batchId);
      this.options.queue.pushFront(batch.space, batch.items);
    }
    const spaces = this.spacesOf(dead.id);
    this.restarting++;
    const restored = this.replaceWorker(dead).then((fresh) => recoverSpaces(fresh, spaces, {
      store: this.options.store, queue: this.options.queue, log: this.options.log,
      indexedLsn: (space) => this.indexedLsn.get(space) ?? 0,
      key: () => `recover:${this.nextKey++}`,
      onReplayQueued: this.options.onReplayQueued,
      onRestored: (space, hnsw) => this.rebuilds.builtWith(space, hnsw ?? this.config.hnsw),
    }));
    void restored.then(() => this.rebuilds.schedule());
    for (const space of spaces) {
      const placed = restored.then(() => undefined);
      const indexed = restored.then((r) => r.get(space));
      this.moving.set(space, placed);
      this.recovering.set(space, indexed);
      void placed.finally(() => {
        if (this.moving.get(space) === placed) this.moving.delete(space);
        this.schedulePump();
      });
      void indexed.finally(() => {
        if (this.recovering.get(space) === indexed) this.recovering.delete(space);
      });
    }
    void restored.finally(() => {
      this.restarting--;
      this.schedulePump();
    });
  }

  private async replaceWorker(dead: WorkerSlot): Promise<WorkerSlot> {
    for (;;) {
      const fresh = this.spawn(dead.id);
      try {
        await fresh.ready;
        this.slots[dead.id] = fresh;
        this.options.log.info('worker restarted', { worker: dead.id });
        return fresh;
      } catch (e) {
        this.options.log.error('worker restart failed; trying again', { worker: dead.id, error: String(e) });
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /** The worker that owns `space`, assigning it by the ring on first sight. */
  ownerOf(space: string): number {
    let id = this.owner.get(space);
    if (id === undefined) {
      id = this.ring.lookup(space);
      this.setOwner(space, id);
    }
    return id;
  }

  private setOwner(space: string, id: number): void {
    const previous = this.owner.get(space);
    if (previous !== undefined) this.owned.get(previous)?.delete(space);
    this.owner.set(space, id);
    let set = this.owned.get(id);
    if (!set) {
      set = new Set();
      this.owned.set(id, set);
    }
    set.add(space);
  }

  /** Observations were queued for `space`: make sure it has an owner and dispatch soon. */
  queued(space: string): void {
    this.ownerOf(space);
    this.schedulePump();
  }

  /** Dispatches at the next turn of the event loop (once, however often it is asked). */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private spacesOf(slotId: number): string[] {
    return [...(this.owned.get(slotId) ?? [])];
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (slot.failure || slot.retiring) continue;
      while (slot.inFlight < PIPELINE_DEPTH && this.dispatchOne(slot)) { /* keep the pipeline full */ }
    }
    this.maybeSteal();
  }

  /** Sends the next batch to `slot`, round-robin over its spaces; false when there is nothing to send. */
  private dispatchOne(slot: WorkerSlot): boolean {
    const spaces = this.spacesOf(slot.id).filter((s) => !this.moving.has(s) && this.options.queue.depthOf(s) > 0);
    if (spaces.length === 0) return false;
    const cursor = (this.rrCursor.get(slot.id) ?? 0) % spaces.length;
    this.rrCursor.set(slot.id, cursor + 1);
    const space = spaces[cursor] as string;
    const { queue } = this.options;
    const { min, max } = this.config.batch;
    if (slot.inFlight === 0 && queue.depthOf(space) < min && this.lingering(space)) return false;
    const items = queue.take(space, adaptiveBatchSize(queue.depth, queue.observationCapacity, min, max));
    this.send(slot, space, items);
    return true;
  }

  /** True while a small batch should wait up to idleSleepMs for more (then a timer pumps again). */
  private lingering(space: string): boolean {
    const oldest = this.options.queue.oldest(space);
    const wait = oldest ? oldest.acceptedAt + this.config.idleSleepMs - performance.now() : 0;
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
    const dim = this.config.hnsw.dimension;
    const vectors = new Float32Array(items.length * dim);
    const now = performance.now();
    items.forEach((o, i) => {
      vectors.set(o.vector, i * dim);
      this.options.metrics.queueWait.observe({ priority: 'normal' }, (now - o.acceptedAt) / 1000);
    });
    this.rebuilds.noteNew(space);
    const batchId = this.nextBatchId++;
    let lastLsn = 0;
    for (const o of items) if (o.lsn > lastLsn) lastLsn = o.lsn;
    this.inFlight.set(batchId, { slot, space, items, lastLsn });
    slot.inFlight++;
    slot.inFlightBySpace.set(space, (slot.inFlightBySpace.get(space) ?? 0) + 1);
    slot.post({
      type: 'batch', batchId, space, vectors,
      ids: items.map((o) => o.id), contents: items.map((o) => o.content), metadata: items.map((o) => o.metadata), lastLsn,
    }, [vectors.buffer]);
  }

  private batchDone(slot: WorkerSlot, message: Extract<FromWorker, { type: 'batchDone' }>): void {
    const batch = this.inFlight.get(message.batchId);
    if (!batch || batch.slot !== slot) return;
    this.inFlight.delete(message.batchId);
    this.indexedLsn.set(batch.space, Math.max(this.indexedLsn.get(batch.space) ?? 0, batch.lastLsn));
    slot.inFlight--;
    const left = (slot.inFlightBySpace.get(batch.space) ?? 1) - 1;
    if (left > 0) slot.inFlightBySpace.set(batch.space, left);
    else slot.inFlightBySpace.delete(batch.space);
    slot.batches++;
    slot.indexed += batch.items.length - message.failures.length;
    const worker = String(slot.id);
    const { metrics } = this.options;
    metrics.batches.inc({ worker_id: worker });
    metrics.batchSize.observe({ worker_id: worker }, batch.items.length);
    if (message.failures.length > 0) metrics.batchFailures.inc({ worker_id: worker, error_type: 'index' }, message.failures.length);
    this.options.onBatchIndexed({ space: batch.space, items: batch.items, failures: message.failures, spaceSize: message.spaceSize });
    if (left === 0) this.drainWaiters.get(batch.space)?.();
    this.schedulePump();
  }

  /** Routes a recall to the owner of its space (after any move of the space completes). */
  async recall(space: string, vector: Float32Array, k: number, ef: number, signal?: AbortSignal): Promise<RecallResult> {
    try {
      return await this.recallOnce(space, vector, k, ef, signal);
    } catch (e) {
      // The worker died under the recall: ask its replacement once the space is recovered.
      if (!(e instanceof EngramError && e.code === 'WORKER_FAILED') || signal?.aborted) throw e;
      return this.recallOnce(space, vector, k, ef, signal);
    }
  }

  private async recallOnce(space: string, vector: Float32Array, k: number, ef: number, signal?: AbortSignal): Promise<RecallResult> {
    // Wait out a move or recovery of the space; a failed move leaves it where it was, which is fine.
    await this.settled(space);
    signal?.throwIfAborted();
    const slot = this.slots[this.ownerOf(space)] as WorkerSlot;
    const requestId = this.nextRequestId++;
    const key = `recall:${requestId}`;
    const onAbort = (): void => slot.forget(key);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const reply = await slot.request(key, { type: 'recall', requestId, space, vector, k, ef, measureQuality: this.sampleQuality() });
      if (reply.type === 'recallFailed') throw new EngramError('INTERNAL', `recall failed in worker ${slot.id}: ${reply.reason}`);
      if (reply.type !== 'recallDone') throw new EngramError('INTERNAL', `unexpected reply ${reply.type}`);
      return { hits: reply.hits, spaceSize: reply.spaceSize };
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Whether this recall is also measured against an exact search: every 1/sampleRate-th recall,
   * counted rather than drawn at random, so a rate gives the same share on every engine.
   */
  private sampleQuality(): boolean {
    this.qualityCredit += this.config.quality.sampleRate;
    if (this.qualityCredit < 1) return false;
    this.qualityCredit -= 1;
    return true;
  }

  /** Resolves once the space is neither moving nor recovering. */
  private async settled(space: string): Promise<void> {
    for (;;) {
      const pending = this.moving.get(space) ?? this.recovering.get(space);
      if (!pending) return;
      await pending.catch(() => undefined);
      // A worker that died mid-way is being replaced: wait for the replacement.
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  /** Sends a keyed request to the owner of `space` (after any move or recovery) and returns its report. */
  async requestOnOwner(space: string, build: (key: string) => ToWorker): Promise<SpaceReport> {
    await this.settled(space);
    const slot = this.slots[this.ownerOf(space)] as WorkerSlot;
    const key = `req:${this.nextKey++}`;
    const reply = await slot.request(key, build(key));
    if (reply.type === 'requestFailed') throw new EngramError('INTERNAL', `worker ${slot.id}, memory space '${space}': ${reply.reason}`);
    if (reply.type !== 'report') throw new EngramError('INTERNAL', `unexpected reply ${reply.type}`);
    return reply.report;
  }

  /** Looks ids up in the space's index on its owner (after any move or recovery). */
  async fetch(space: string, ids: string[]): Promise<{ found: FetchedData[]; missing: string[] }> {
    await this.settled(space);
    const slot = this.slots[this.ownerOf(space)] as WorkerSlot;
    const key = `fetch:${this.nextKey++}`;
    const reply = await slot.request(key, { type: 'fetch', key, space, ids });
    if (reply.type !== 'fetched') throw new EngramError('INTERNAL', `unexpected reply ${reply.type}`);
    return { found: reply.found, missing: reply.missing };
  }

  /** Count and checksum of the ids the space's index holds (after any move or recovery). */
  async digest(space: string): Promise<{ count: number; checksum: string }> {
    await this.settled(space);
    const slot = this.slots[this.ownerOf(space)] as WorkerSlot;
    const key = `digest:${this.nextKey++}`;
    const reply = await slot.request(key, { type: 'digest', key, space });
    if (reply.type !== 'digested') throw new EngramError('INTERNAL', `unexpected reply ${reply.type}`);
    return { count: reply.count, checksum: reply.checksum };
  }

  /** Observations of the space in batches its worker is indexing now. */
  inFlightItems(space: string): QueuedObservation[] {
    return [...this.inFlight.values()].filter((b) => b.space === space).flatMap((b) => b.items);
  }

  /**
   * Forgets a space whose queue is empty (it now lives on another pod): its worker drops the
   * index. A rebuild of it is abandoned.
   */
  async release(space: string): Promise<void> {
    await this.rebuilds.waitFor(space);
    await this.settled(space);
    const owner = this.owner.get(space);
    if (owner === undefined) return;
    this.slots[owner]?.post({ type: 'drop', space });
    this.owned.get(owner)?.delete(space);
    this.owner.delete(space);
    this.indexedLsn.delete(space);
    this.movedAt.delete(space);
    this.rebuilds.forget(space);
  }

  /** Writes a snapshot of the space on its owner (what it has indexed now, and that LSN). */
  snapshot(space: string, files: SnapshotTarget): Promise<SpaceReport> {
    return this.requestOnOwner(space, (key) => ({ type: 'snapshot', key, space, files }));
  }

  /** Loads a space from its snapshot onto the worker the ring gives it (at start). */
  async restore(space: string, files: SnapshotFiles, hnsw: HnswConfig, lsn: number): Promise<SpaceReport> {
    const report = await this.requestOnOwner(space, (key) => ({ type: 'restore', key, space, files, hnsw, lsn }));
    this.indexedLsn.set(space, Math.max(this.indexedLsn.get(space) ?? 0, lsn));
    this.rebuilds.builtWith(space, hnsw);
    return report;
  }

  /** Posts to the owner of a space without waiting (rebuild abandon). */
  postToOwner(space: string, message: ToWorker): void {
    this.slots[this.ownerOf(space)]?.post(message);
  }

  /** Spaces the pool knows, each with the highest LSN its worker indexed. */
  spaceLsns(): Map<string, number> {
    return new Map([...this.owner.keys()].map((s) => [s, this.indexedLsn.get(s) ?? 0]));
  }

  /** True while the space has log records not yet in its index: queued, in flight, moving or recovering. */
  hasUnindexedWork(space: string): boolean {
    if (this.options.queue.depthOf(space) > 0 || this.moving.has(space) || this.recovering.has(space)) return true;
    return this.slots.some((s) => (s.inFlightBySpace.get(space) ?? 0) > 0);
  }

  /** Moves a space's index from its owner to worker `to`; dispatch and recalls of it wait meanwhile. */
  private moveSpace(space: string, to: number): Promise<void> {
    const from = this.ownerOf(space);
    const pending = this.moving.get(space);
    if (pending || from === to) return pending ?? Promise.resolve();
    const move: Promise<void> = this.runMove(space, from, to).finally(() => {
      if (this.moving.get(space) === move) this.moving.delete(space);
      this.movedAt.set(space, performance.now());
      this.schedulePump();
    });
    this.moving.set(space, move);
    return move;
  }

  private async runMove(space: string, from: number, to: number): Promise<void> {
    // A rebuild in progress remembers changes on this worker: let it finish first.
    await this.rebuilds.waitFor(space);
    const source = this.slots[from] as WorkerSlot;
    const target = this.slots[to] as WorkerSlot;
    if ((source.inFlightBySpace.get(space) ?? 0) > 0) {
      await new Promise<void>((resolve) => this.drainWaiters.set(space, resolve));
      this.drainWaiters.delete(space);
    }
    const path = join(this.options.scratchDir, `move-${process.pid}-${this.nextMoveId++}-${space}.hnsw`);
    const exported = await source.request(`export:${space}`, { type: 'export', space, path });
    if (exported.type !== 'exported') throw this.moveFailure(space, from, to, exported);
    const imported = await target.request(`import:${space}`, { type: 'import', space, path, state: exported.state });
    if (imported.type !== 'imported') throw this.moveFailure(space, from, to, imported);
    // Only now does the old owner let go: until here, a failure leaves the space where it was.
    this.setOwner(space, to);
    source.post({ type: 'drop', space });
  }

  private moveFailure(space: string, from: number, to: number, reply: FromWorker): EngramError {
    this.options.metrics.moveFailures.inc();
    const reason = reply.type === 'moveFailed' ? `${reply.step} failed: ${reply.reason}` : `unexpected reply ${reply.type}`;
    return new EngramError('INTERNAL', `could not move memory space '${space}' from worker ${from} to worker ${to} (${reason}); it stays on worker ${from}`);
  }

  private maybeSteal(): void {
    if (this.config.stealThreshold <= 0 || this.moving.size > 0) return;
    // Cheap test first: stealing needs an idle worker, and this runs after every dispatch.
    if (!this.slots.some((s) => s.inFlight === 0 && !s.failure && !s.retiring)) return;
    const now = performance.now();
    const ringSize = this.ring.nodes.length;
    const loads: WorkerLoad[] = this.slots.filter((s) => !s.failure && !s.retiring).map((slot) => {
      const owned = this.spacesOf(slot.id);
      const queued = owned.reduce((n, s) => n + this.options.queue.depthOf(s), 0);
      const spaces = owned
        .filter((space) => now - (this.movedAt.get(space) ?? -Infinity) > STEAL_COOLDOWN_MS && !this.rebuilds.isRebuilding(space))
        .map((space) => ({ space, queued: this.options.queue.depthOf(space), inFlight: slot.inFlightBySpace.get(space) ?? 0 }));
      return { id: slot.id, queued, idle: queued === 0 && slot.inFlight === 0 && slot.id < ringSize, spaces };
    });
    const decision = chooseSteal(loads, this.config.stealThreshold);
    if (!decision || this.options.canSteal?.(decision.space) === false) return;
    const thief = this.slots[decision.to] as WorkerSlot;
    // A failed steal leaves the space where it was (counted in move failures); nothing to undo.
    void this.moveSpace(decision.space, decision.to).then(() => {
      thief.stolen++;
      this.options.metrics.workStolen.inc({ worker_id: String(decision.to) });
    }, (e: unknown) => this.options.log.warn('work steal failed', { error: e instanceof Error ? e.message : String(e) }));
  }

  /**
   * Applies a new config live. Batch, linger and steal knobs take effect at the next dispatch; a
   * new efSearch is sent to every worker; a new worker count starts or retires workers and moves
   * exactly the spaces whose owner the new ring changes (steals are undone at the same time).
   */
  async reconfigure(config: EngineConfig): Promise<void> {
    const previous = this.config;
    this.config = config;
    if (config.hnsw !== previous.hnsw) this.broadcastHnsw(config.hnsw);
    if (config.workers !== this.slots.length) await this.resize(config.workers);
    this.schedulePump();
    this.rebuilds.schedule();
  }

  /** Where background index rebuilds stand. */
  rebuildStatus(): RebuildStatus {
    return this.rebuilds.status();
  }

  /** Rebuilds, in the background, every index built with other M / ef_construction than the config's. */
  scheduleRebuilds(): void {
    this.rebuilds.schedule();
  }

  private broadcastHnsw(hnsw: HnswConfig): void {
    for (const slot of this.slots) slot.post({ type: 'configure', hnsw });
  }

  private async resize(count: number): Promise<void> {
    const current = this.slots.length;
    if (count > current) {
      const added = Array.from({ length: count - current }, (_, i) => this.spawn(current + i));
      await Promise.all(added.map((s) => s.ready));
      this.slots.push(...added);
    }
    for (const slot of this.slots.slice(count)) slot.retiring = true;
    this.ring = new HashRing(Array.from({ length: count }, (_, i) => i));
    await this.placeByRing();
  }

  /**
   * Moves every space to its ring owner, then stops the workers beyond the ring that own nothing.
   * A failed move leaves its space, and so its worker, where it was: that worker keeps serving it
   * and placement is tried again a few seconds later, until it matches the ring (level-based, so
   * a full or missing scratch directory delays a resize but never loses a space).
   */
  private async placeByRing(): Promise<void> {
    const moves = [...this.owner.keys()].map((space) => this.moveSpace(space, this.ring.lookup(space)));
    const failed = (await Promise.allSettled(moves)).filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    for (const f of failed) this.options.log.warn('memory space move failed', { error: String(f.reason?.message ?? f.reason) });
    const ringSize = this.ring.nodes.length;
    while (this.slots.length > ringSize) {
      const last = this.slots[this.slots.length - 1] as WorkerSlot;
      if (this.spacesOf(last.id).length > 0) break;
      while (last.pendingReplies > 0 || last.inFlight > 0) await new Promise((r) => setTimeout(r, 5));
      await last.terminate();
      this.slots.pop();
    }
    for (const slot of this.slots.slice(ringSize)) slot.retiring = false; // still serving what it could not hand over
    this.options.metrics.workers.set(this.slots.length);
    if (this.slots.length > ringSize && !this.placementTimer) {
      this.placementTimer = setTimeout(() => {
        this.placementTimer = null;
        void this.placeByRing();
      }, PLACEMENT_RETRY_MS);
    }
  }

  /** Per-worker figures for stats and metrics; utilisation is computed by the caller over time. */
  workerLoads(): Array<{ id: number; queued: number; spaces: number; batches: number; indexed: number; stolen: number; busyMs: number }> {
    return this.slots.map((slot) => {
      const spaces = this.spacesOf(slot.id);
      return {
        id: slot.id,
        queued: spaces.reduce((n, s) => n + this.options.queue.depthOf(s), 0),
        spaces: spaces.length,
        batches: slot.batches,
        indexed: slot.indexed,
        stolen: slot.stolen,
        busyMs: slot.busyMs,
      };
    });
  }

  get batchesInFlight(): number {
    return this.inFlight.size;
  }

  async close(): Promise<void> {
    this.closing = true;
    this.rebuilds.stop();
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    if (this.placementTimer) clearTimeout(this.placementTimer);
    await Promise.all(this.slots.map((s) => s.terminate()));
    this.slots = [];
  }
}
