// The engine's composition root: one queue, one space directory, the tenants, the worker pool, the
// metrics and (with a data directory) the durable storage, wired together, plus the live config
// (its hash and generation) and the periodic tick that tells sessions about pressure and refreshes
// gauges.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { canonicalJson, configHash, VECTOR_SHAPE_KEYS, type EngineConfig } from './config/engine-config.js';
import { applyConfigPatch } from './config/validate-config.js';
import { Checkpointer, snapshotBytes } from './durability/checkpointer.js';
import { usearchUnavailable } from './index/usearch-graph.js';
import { DurableStorage } from './durability/durable-storage.js';
import { recoverAtStart } from './durability/startup-recovery.js';
import { EngramError } from './errors.js';
import { MemoryGuard } from './memory/memory-guard.js';
import { collectGarbage, loadMemoryRelease } from './memory/memory-release.js';
import { createEngineMetrics, type EngineMetrics } from './metrics/engine-metrics.js';
import { parseShardKey } from './pool/shard-key.js';
import { WorkerPool } from './pool/worker-pool.js';
import { DrainRate } from './queue/drain-rate.js';
import { IngestQueue, type QueuedObservation } from './queue/ingest-queue.js';
import { streamWindow } from './queue/pressure.js';
import { IndexAcks } from './session/index-acks.js';
import type { ObserveSession, SessionContext } from './session/observe-session.js';
import { SpaceDirectory } from './tenancy/space-directory.js';
import { Tenants } from './tenancy/tenants.js';
import type { Logger } from './log.js';
import { WriteAheadLog } from './wal/write-ahead-log.js';
import { Membership } from './placement/membership.js';
import type { Placement } from './placement/placement.js';
import { SpaceTransfer } from './handoff/space-transfer.js';

const TICK_MS = 100;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

export interface AppliedConfig {
  config: EngineConfig;
  hash: string;
  generation: number;
}

export interface EngineOptions {
  config: EngineConfig;
  log: Logger;
  /** Where index files are written while a space moves between workers (default: a new temp dir). */
  scratchDir?: string;
  /**
   * Where the write-ahead log and snapshots live. Without one the engine keeps everything in
   * memory: ACCEPTED then means queued, and a crash loses what it held.
   */
  dataDir?: string;
  /** Allows Admin.InjectFault (failure drills); off in production. */
  faultInjection?: boolean;
  /**
   * This engine's pod name in a multi-pod stream: it then takes a placement from the operator and
   * serves only the memory spaces the placement gives it. Without one it owns every space.
   */
  memberName?: string;
}

export class Engine implements SessionContext {
  readonly metrics: EngineMetrics = createEngineMetrics();
  readonly queue: IngestQueue;
  readonly tenants: Tenants;
  readonly directory: SpaceDirectory;
  readonly sessions = new Set<ObserveSession>();
  readonly membership: Membership;
  /** Copying memory spaces to and from other pods of the stream (hand-offs). */
  readonly transfer: SpaceTransfer;
  private readonly pool: WorkerPool;
  private readonly drain = new DrainRate(() => performance.now());
  private readonly scratchDir: string;
  private readonly ownsScratch: boolean;
  private current: EngineConfig;
  private hash: string;
  private generation = 1;
  private applying: Promise<unknown> = Promise.resolve();
  private ticker: NodeJS.Timeout | null = null;
  private lastBusy = new Map<number, { busyMs: number; at: number }>();
  /** Each worker's busy share of the last full second, refreshed by the tick. */
  readonly utilization = new Map<number, number>();
  private stopping = false;
  private recovering = false;
  private readonly storage: DurableStorage | null;
  private readonly checkpointer: Checkpointer | null;
  private readonly memory: MemoryGuard;
  private ticks = 0;
  /** Running totals since start, for stats. */
  readonly totals = { accepted: 0, rejected: 0, indexed: 0 };

  constructor(private readonly options: EngineOptions) {
    this.current = options.config;
    this.hash = configHash(this.current);
    this.queue = new IngestQueue(this.current.queue.capacity, this.current.queue.highPriorityRatio);
    this.tenants = new Tenants(this.current.tenants, () => Date.now());
    this.directory = new SpaceDirectory(this.tenants);
    this.ownsScratch = !options.scratchDir;
    this.scratchDir = options.scratchDir ?? mkdtempSync(join(tmpdir(), 'engram-'));
    this.storage = options.dataDir ? new DurableStorage(options.dataDir) : null;
    this.membership = new Membership(options.memberName ?? null, options.dataDir ?? null);
    this.pool = new WorkerPool({
      config: this.current, queue: this.queue, metrics: this.metrics, scratchDir: this.scratchDir,
      acks: new IndexAcks({ directory: this.directory, metrics: this.metrics, drain: this.drain, totals: this.totals, sessions: this.sessions }),
      onWorkerFailed: (id, error) => this.workerFailed(id, error),
      canSteal: (space) => {
        const headroom = this.memory.headroom();
        return headroom === null || headroom >= 2 * this.graphBytes(space);
      },
      onReplayQueued: (space, count) => {
        this.directory.restore(space).pending += count;
        this.metrics.walReplayed.inc(count);
      },
      store: this.storage,
      log: options.log,
      onLayoutSwitched: (_space, from, to) => this.commitLayout(from, to),
      canReshard: (space) => {
        const headroom = this.memory.headroom();
        return headroom === null || headroom >= 2 * this.graphBytes(space);
      },
    });
    const release = loadMemoryRelease();
    this.memory = new MemoryGuard({
      settings: () => this.current.memory, queuedBytes: () => this.queue.memoryBytes,
      trimHeap: release && (() => release.trimHeap()), collectGarbage,
    });
    this.transfer = new SpaceTransfer({
      pool: this.pool, queue: this.queue, directory: this.directory, storage: this.storage, metrics: this.metrics,
      scratchDir: this.scratchDir, hnsw: () => this.current.hnsw, persist: (items) => this.persist(items),
    });
    this.checkpointer = this.storage
      ? new Checkpointer({
        storage: this.storage, pool: this.pool, log: options.log, metrics: this.metrics, settings: () => this.current.durability,
        snapshotBytes: (space) => this.graphBytes(space),
        memoryHeadroom: () => this.memory.headroom(),
      })
      : null;
  }

  /** Bytes an index's graph (a space's, or a shard's) passes through the page cache when written to a file (a snapshot, a move). */
  private graphBytes(index: string): number {
    const { space, count } = parseShardKey(index);
    return snapshotBytes((this.directory.get(space)?.indexed ?? 0) / count, this.current.hnsw);
  }

  /**
   * Makes a reshard's new layout durable: snapshots of the new shards, then the old shards'
   * snapshots removed (from then on a restart loads the new layout; before, the old one and the
   * log the pool kept for it).
   */
  private async commitLayout(from: string[], to: string[]): Promise<void> {
    const { storage, checkpointer } = this;
    if (!storage || !checkpointer) return;
    for (;;) {
      await checkpointer.checkpoint();
      if (to.every((key) => storage.snapshots.get(key))) break;
      if (this.stopping) throw new EngramError('SHUTTING_DOWN', 'the engine stopped before the new layout was snapshotted; a restart loads the old one');
      await sleep(1000);
    }
    for (const key of from) await storage.snapshots.remove(key);
  }

  /** Starts the workers and, with a data directory, recovers from it before anything is accepted. */
  async start(): Promise<void> {
    await this.membership.load();
    const kept = this.membership.placement;
    if (kept) this.tenants.setShare(1 / kept.ringSize);
    this.metrics.registry.setDefaultLabels({ track: this.track });
    await this.pool.start();
    if (this.storage) await this.recover(this.storage);
    this.pool.scheduleBackgroundWork();
    this.publishConfigMetrics();
    this.initPlacementMetrics();
    this.checkMemory();
    this.ticker = setInterval(() => this.tick(), TICK_MS);
    this.ticker.unref();
  }

  private async recover(storage: DurableStorage): Promise<void> {
    this.recovering = true;
    this.metrics.recovering.set(1);
    await storage.claim();
    const report = await recoverAtStart({
      shape: this.current.hnsw, storage, pool: this.pool, queue: this.queue, directory: this.directory, log: this.options.log, metrics: this.metrics,
    });
    this.options.log.info('recovered from the data directory', {
      dataDir: storage.dataDir, spacesRestored: report.spacesRestored, recordsReplayed: report.recordsReplayed,
      damagedTails: report.damaged.length, nextLsn: report.nextLsn, seconds: Number(report.seconds.toFixed(3)),
    });
    const { durability } = this.current;
    storage.wal = await WriteAheadLog.open({
      dir: storage.walDir, syncPolicy: durability.syncPolicy, syncIntervalMs: durability.syncIntervalMs,
      segmentBytes: durability.segmentBytes, nextLsn: report.nextLsn, log: this.options.log,
      metrics: {
        written: (bytes) => this.metrics.walWrittenBytes.inc(bytes),
        synced: (seconds) => this.metrics.walSync.observe(seconds),
        failed: (code) => this.metrics.walFailures.inc({ code }),
      },
    });
    // Replayed records are indexed only in memory: snapshot them before reporting ready, or every
    // crash before the next periodic checkpoint adds its log to the next replay (restart times
    // grew 20 s -> 109 s over ten kills before this).
    if (report.recordsReplayed > 0 && this.checkpointer) {
      await this.checkpointer.checkpoint();
      this.options.log.info('checkpoint after recovery', { recordsReplayed: report.recordsReplayed });
    }
    this.checkpointer?.start();
    this.recovering = false;
    this.metrics.recovering.set(0);
  }

  get log(): Logger {
    return this.options.log;
  }

  // ---- SessionContext
  config(): EngineConfig {
    return this.current;
  }

  drainRate(): number {
    return this.drain.observationsPerSecond;
  }

  queued(space: string): void {
    this.pool.queued(space);
  }

  accepting(): boolean {
    return !this.stopping;
  }

  storageUnavailable(): string | null {
    if (!this.storage) return null;
    if (!this.storage.wal) return 'the engine is recovering from its data directory';
    return this.storage.wal.unavailable?.message ?? null;
  }

  memoryPressure(): string | null {
    return this.memory.current.refusal;
  }

  streamWindow(): number {
    return streamWindow(this.queue.observationCapacity, this.sessions.size);
  }

  /** Bytes this engine may still take in under its memory watermark (null: no limit). */
  memoryHeadroom(): number | null {
    return this.memory.headroom();
  }

  writeRefusal(space: string): string | null {
    return this.membership.writeRefusal(space);
  }

  persist(items: QueuedObservation[]): Promise<void> {
    const wal = this.storage?.wal;
    if (!this.storage) return Promise.resolve();
    if (!wal) return Promise.reject(new EngramError('STORAGE_UNAVAILABLE', 'the write-ahead log is not open'));
    const { lsns, committed } = wal.append(items);
    items.forEach((item, i) => {
      item.lsn = lsns[i] as number;
    });
    return committed;
  }

  /** Ready: recovered, every worker running, the data directory writable, not stopping. */
  get ready(): boolean {
    return !this.stopping && !this.recovering && this.pool.workersRestarting === 0 && this.pool.workerCount > 0
      && this.storageUnavailable() === null;
  }

  get applied(): AppliedConfig {
    return { config: this.current, hash: this.hash, generation: this.generation };
  }

  /** Where background index rebuilds (after a new hnsw.m, efConstruction, backend or quantization) stand. */
  rebuildStatus() {
    return this.pool.rebuildStatus();
  }

  /** Where live reshards (after a new hnsw.shards or hnsw.shardOverrides) stand. */
  reshardStatus() {
    return this.pool.reshardStatus();
  }

  get workerCount(): number {
    return this.pool.workerCount;
  }

  recall(space: string, vector: Float32Array, k: number, ef: number, signal?: AbortSignal) {
    return this.pool.recall(space, vector, k, ef, signal);
  }

  fetch(space: string, ids: string[]) {
    return this.pool.fetch(space, ids);
  }

  private workerFailed(id: number, error: Error): void {
    this.metrics.workerRestarts.inc({ worker_id: String(id) });
    this.options.log.error('worker failed; replacing it and recovering its memory spaces', { worker: id, error: error.message });
  }

  /**
   * Validates a partial config and applies it live, one apply at a time. dimension and metric may
   * change only while no memory space exists; a new M, efConstruction, backend or quantization rebuilds every space's
   * index in the background.
   */
  applyConfig(patch: unknown, dryRun = false): Promise<AppliedConfig> {
    const run = this.applying.then(() => this.applyNow(patch, dryRun));
    this.applying = run.catch(() => undefined);
    return run;
  }

  private async applyNow(patch: unknown, dryRun: boolean): Promise<AppliedConfig> {
    const next = applyConfigPatch(this.current, patch);
    if (this.directory.size > 0) {
      const changed = VECTOR_SHAPE_KEYS.filter((k) => next.hnsw[k] !== this.current.hnsw[k]);
      if (changed.length > 0) {
        throw new EngramError('CONFIG_NOT_LIVE', `hnsw.${changed.join(', hnsw.')} cannot change while memory spaces exist (${this.directory.size}): every stored vector has this shape; start a new engine`);
      }
    }
    const missing = next.hnsw.backend === 'usearch' ? usearchUnavailable() : null;
    if (missing) throw new EngramError('INVALID_CONFIG', `invalid config: 'hnsw.backend' usearch cannot run on this engine: ${missing}`);
    if (dryRun) return { config: next, hash: configHash(next), generation: this.generation };
    if (canonicalJson(next) === canonicalJson(this.current)) return this.applied;
    this.queue.resize(next.queue.capacity, next.queue.highPriorityRatio);
    this.tenants.reconfigure(next.tenants);
    this.storage?.wal?.setSyncPolicy(next.durability.syncPolicy, next.durability.syncIntervalMs);
    this.storage?.wal?.setSegmentBytes(next.durability.segmentBytes);
    await this.pool.reconfigure(next);
    this.current = next;
    this.hash = configHash(next);
    this.generation++;
    this.publishConfigMetrics();
    this.options.log.info('config applied', { hash: this.hash, generation: this.generation, profile: next.profile, workers: next.workers });
    for (const session of this.sessions) session.reportPressure();
    return this.applied;
  }

  /** Counters of scale-out events exist at 0 from the start (increase() misses a series' first event). */
  private initPlacementMetrics(): void {
    const m = this.metrics;
    for (const method of ['ObserveStream', 'Recall', 'Fetch']) for (const result of ['ok', 'error']) m.forwarded.inc({ grpc_method: method, result }, 0);
    for (const result of ['verified', 'failed']) m.handoffs.inc({ result }, 0);
    for (const role of ['source', 'target']) {
      m.handoffFailures.inc({ role }, 0);
      m.handoffsActive.set({ role }, 0);
    }
    m.handoffBytes.inc(0);
    m.handoffRecords.inc(0);
  }

  private publishConfigMetrics(): void {
    this.metrics.configGeneration.set(this.generation);
    this.metrics.configInfo.reset();
    this.metrics.configInfo.set({ config_hash: this.hash, profile: this.current.profile }, 1);
    this.metrics.queueCapacity.set({ priority: 'normal' }, this.queue.observationCapacity);
    this.metrics.queueCapacity.set({ priority: 'high' }, this.queue.recallCapacityLimit);
    this.metrics.tenantVectorQuota.reset();
    this.metrics.tenantRateLimit.reset();
    for (const t of this.current.tenants) {
      this.metrics.tenantVectorQuota.set({ tenant: t.name }, t.maxVectors);
      this.metrics.tenantRateLimit.set({ tenant: t.name }, t.rateLimit);
      // a configured tenant's refusals exist at 0 before the first (increase() would miss it)
      for (const reason of ['rate_limited', 'quota_exceeded']) this.metrics.tenantRejected.inc({ tenant: t.name, reason }, 0);
      this.metrics.tenantDelayed.inc({ tenant: t.name }, 0);
    }
  }

  private tick(): void {
    if (this.ticks++ % 2 === 0) this.checkMemory(); // every 200 ms: memory can grow fast
    for (const session of this.sessions) session.reportPressure();
    const m = this.metrics;
    m.queueDepth.set({ priority: 'normal' }, this.queue.depth);
    m.queueDepth.set({ priority: 'high' }, this.queue.recallDepth);
    m.queueMemory.set(this.queue.memoryBytes);
    m.activeSessions.set(this.sessions.size);
    if (this.storage) m.walWritable.set(this.storageUnavailable() === null ? 1 : 0);
    const now = performance.now();
    m.workerUtilization.reset();
    m.workerQueueDepth.reset();
    for (const w of this.pool.workerLoads()) {
      const last = this.lastBusy.get(w.id);
      if (!last || now - last.at >= 1000) {
        if (last) this.utilization.set(w.id, Math.min(1, (w.busyMs - last.busyMs) / (now - last.at)));
        this.lastBusy.set(w.id, { busyMs: w.busyMs, at: now });
      }
      m.workerUtilization.set({ worker_id: String(w.id) }, this.utilization.get(w.id) ?? 0);
      m.workerQueueDepth.set({ worker_id: String(w.id) }, w.queued);
    }
    for (const t of this.current.tenants) m.tenantVectors.set({ tenant: t.name }, this.directory.usage(t.name).vectors);
    if (this.ticks % 10 === 1) this.publishPlacementMetrics(); // every second: it walks every space
  }

  private publishPlacementMetrics(): void {
    let owned = 0;
    this.metrics.shardVectors.reset(); // a space resharded to fewer shards leaves no stale series
    for (const s of this.directory.all()) {
      if (this.membership.owns(s.id)) owned++;
      const shards = this.pool.shardsOf(s.id);
      this.metrics.spaceShards.set({ memory_space: s.id }, shards.length);
      if (shards.length > 1) for (const { shard, vectors } of shards) this.metrics.shardVectors.set({ memory_space: s.id, shard: String(shard) }, vectors);
    }
    this.metrics.spacesOwned.set({ owned: 'true' }, owned);
    this.metrics.spacesOwned.set({ owned: 'false' }, this.directory.size - owned);
    this.metrics.placementGeneration.set(this.membership.generation);
  }

  /** The rollout track this engine serves (a label on every metric it exports). */
  get track(): 'stable' | 'canary' {
    const { placement, self } = this.membership;
    return placement && self ? placement.trackOf(self) : 'stable';
  }

  private checkMemory(): void {
    const before = this.memory.current.refusal;
    const returnedBefore = this.memory.returnedBytes;
    const reading = this.memory.check();
    this.metrics.memoryReturned.inc(this.memory.returnedBytes - returnedBefore);
    this.metrics.memoryLimit.set(reading.limitBytes ?? 0);
    this.metrics.memoryProjected.set(reading.projectedBytes);
    this.metrics.memoryPressure.set(reading.refusal ? 1 : 0);
    if (reading.refusal && !before) this.options.log.warn('memory limit near: refusing new observations', { reason: reading.refusal });
    if (!reading.refusal && before) this.options.log.info('memory back under the watermark: accepting observations', { projectedBytes: reading.projectedBytes });
  }

  /** Each shard of the space (one for a space that is not split): its worker and its vectors. */
  shardsOf(space: string): Array<{ shard: number; worker: number; vectors: number }> {
    return this.pool.shardsOf(space);
  }

  // ---- placement over the pods of a stream, and hand-offs of memory spaces between them

  /**
   * Installs a placement from the operator. Sessions on spaces this engine no longer owns are
   * closed (their clients reconnect and reach the new owner); sealed spaces now owned elsewhere
   * are dropped: the new owner verified its copy before the operator moved them.
   */
  async applyPlacement(placement: Placement): Promise<void> {
    const held = [...this.directory.all()].filter((s) => s.indexed + s.pending > 0).map((s) => s.id);
    await this.membership.install(placement, held);
    this.tenants.setShare(1 / placement.ringSize);
    this.metrics.registry.setDefaultLabels({ track: this.track });
    for (const session of this.sessions) {
      const route = this.membership.route(session.spaceId);
      if (!route.local) session.close(`memory space '${session.spaceId}' moved to ${route.owner.name}; reconnect (unacknowledged observations are resent there)`);
    }
    for (const space of this.membership.sealed()) {
      if (!this.membership.owns(space)) await this.releaseSpace(space);
    }
    this.log.info('placement installed', { generation: placement.generation, members: placement.spec.members.length, assignments: Object.keys(placement.spec.assignments).length });
  }

  /** Drops a memory space this engine holds but does not own (it lives on another pod). */
  async releaseSpace(space: string): Promise<number> {
    if (this.membership.owns(space)) {
      throw new EngramError('SPACE_OWNED', `memory space '${space}' is owned by this engine (placement generation ${this.membership.generation}); it cannot be released`);
    }
    const record = this.directory.get(space);
    if (!record) return 0;
    for (const session of this.sessions) if (session.spaceId === space) session.close(`memory space '${space}' moved to another pod; reconnect`);
    await this.transfer.drop(space);
    this.membership.forget(space);
    this.log.info('memory space released to its new owner', { space, vectors: record.indexed });
    return record.indexed;
  }

  /**
   * Lifts the fence or seal of a space whose hand-off the operator gave up: the space stays here,
   * so writes resume. Only while this engine owns it: after a flip its copy is stale, not reopenable.
   */
  reopenSpace(space: string): boolean {
    if (!this.membership.owns(space)) {
      throw new EngramError('SPACE_NOT_OWNED', `memory space '${space}' is not owned by this engine at placement generation ${this.membership.generation}; only its owner can reopen it`);
    }
    const fenced = this.membership.isFenced(space);
    this.membership.forget(space);
    if (fenced) this.log.info('memory space reopened: its hand-off was given up', { space });
    return fenced;
  }

  workerLoads() {
    return this.pool.workerLoads();
  }

  /** Failure drill: terminates worker threads as a crash would. */
  killWorkers(ids: number[]): number[] {
    if (!this.options.faultInjection) {
      throw new EngramError('FAULT_INJECTION_DISABLED', 'fault injection is disabled; start the engine with --enable-fault-injection');
    }
    return ids.filter((id) => this.pool.killWorker(id));
  }

  /** Resolves once everything queued is indexed (or the deadline passes: false). */
  drained(deadlineMs: number): Promise<boolean> {
    return Promise.race([this.pool.drained().then(() => true), sleep(deadlineMs).then(() => false)]);
  }

  /**
   * Stops accepting, indexes what is queued (for up to half the deadline with a data directory, the
   * whole of it without), snapshots what is indexed (the log keeps the rest, replayed at the next
   * start), then stops the workers. Everything fits in `deadlineMs`, so it can match a pod's
   * termination grace period.
   */
  async close(deadlineMs = 30_000): Promise<void> {
    const until = performance.now() + deadlineMs;
    this.stopping = true;
    const drained = await this.drained(this.storage ? deadlineMs / 2 : deadlineMs);
    if (!drained) {
      this.options.log.warn('shutdown: observations still queued at half the deadline', { queued: this.queue.depth, durable: this.storage !== null });
    }
    if (this.ticker) clearInterval(this.ticker);
    for (const session of this.sessions) session.close('engine shutting down');
    if (this.storage && this.checkpointer) {
      this.checkpointer.stop();
      const left = until - performance.now();
      // A checkpoint already running may predate the drain: take a fresh one after it.
      const final = this.checkpointer.checkpoint().then(() => this.checkpointer?.checkpoint());
      const done = await Promise.race([final.then(() => true), sleep(Math.max(0, left)).then(() => false)]);
      if (!done) this.options.log.warn('shutdown: final snapshot did not finish in time; the log holds everything it lacks');
      await this.storage.wal?.close();
    }
    await this.pool.close();
    if (this.ownsScratch) rmSync(this.scratchDir, { recursive: true, force: true });
  }
}
