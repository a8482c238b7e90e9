// The engine's composition root: one queue, one space directory, the tenants, the worker pool and
// the metrics, wired together, plus the live config (its hash and generation) and the periodic
// tick that tells sessions about pressure and refreshes gauges.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { canonicalJson, configHash, INDEX_SHAPE_KEYS, type EngineConfig } from './config/engine-config.js';
import { applyConfigPatch } from './config/validate-config.js';
import { EngramError } from './errors.js';
import { createEngineMetrics, type EngineMetrics } from './metrics/engine-metrics.js';
import { WorkerPool, type BatchOutcome } from './pool/worker-pool.js';
import { DrainRate } from './queue/drain-rate.js';
import { IngestQueue, type IndexSink } from './queue/ingest-queue.js';
import type { ObserveSession, SessionContext } from './session/observe-session.js';
import { SpaceDirectory } from './tenancy/space-directory.js';
import { Tenants } from './tenancy/tenants.js';
import type { Logger } from './log.js';

const TICK_MS = 100;

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
}

export class Engine implements SessionContext {
  readonly metrics: EngineMetrics = createEngineMetrics();
  readonly queue: IngestQueue;
  readonly tenants: Tenants;
  readonly directory: SpaceDirectory;
  readonly sessions = new Set<ObserveSession>();
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
  private workerFailure: Error | null = null;
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
    this.pool = new WorkerPool({
      config: this.current, queue: this.queue, metrics: this.metrics, scratchDir: this.scratchDir,
      onBatchIndexed: (outcome) => this.batchIndexed(outcome),
      onWorkerFailed: (error) => this.workerFailed(error),
      log: options.log,
    });
  }

  async start(): Promise<void> {
    await this.pool.start();
    this.publishConfigMetrics();
    this.ticker = setInterval(() => this.tick(), TICK_MS);
    this.ticker.unref();
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

  get ready(): boolean {
    return !this.stopping && this.workerFailure === null && this.pool.workerCount > 0;
  }

  get applied(): AppliedConfig {
    return { config: this.current, hash: this.hash, generation: this.generation };
  }

  get workerCount(): number {
    return this.pool.workerCount;
  }

  recall(space: string, vector: Float32Array, k: number, ef: number, signal?: AbortSignal) {
    return this.pool.recall(space, vector, k, ef, signal);
  }

  /** Routes a finished batch's outcome to the sessions that accepted it, as contiguous ranges. */
  private batchIndexed({ space, items, failures, spaceSize }: BatchOutcome): void {
    const failed = new Map(failures.map((f) => [f.index, f.reason]));
    const now = performance.now();
    let sink: IndexSink | null = null;
    let first = 0;
    let last = 0;
    const flush = (): void => {
      if (sink) sink.indexed(first, last);
      sink = null;
    };
    items.forEach((item, i) => {
      const reason = failed.get(i);
      if (reason !== undefined) {
        flush();
        item.sink.failed(item.sequence, `indexing failed: ${reason}`);
        return;
      }
      this.metrics.observationLatency.observe({ memory_space: space }, (now - item.acceptedAt) / 1000);
      if (sink === item.sink && item.sequence === last + 1) {
        last = item.sequence;
        return;
      }
      flush();
      sink = item.sink;
      first = item.sequence;
      last = item.sequence;
    });
    flush();
    const ok = items.length - failed.size;
    const record = this.directory.get(space);
    if (record) {
      record.indexed = spaceSize;
      record.pending -= items.length;
    }
    this.totals.indexed += ok;
    this.drain.record(items.length);
    this.metrics.indexed.inc({ memory_space: space }, ok);
    this.metrics.spaceVectors.set({ memory_space: space }, spaceSize);
    // A small queue drains within a tick: tell paused clients at once, or workers go idle.
    for (const session of this.sessions) session.reportPressure();
  }

  private workerFailed(error: Error): void {
    this.workerFailure = error;
    this.options.log.error('worker failed; the engine stops reporting ready', { error: error.message });
  }

  /**
   * Validates a partial config and applies it live, one apply at a time. Index-shape keys
   * (dimension, metric, m, efConstruction) may change only while no memory space exists.
   */
  applyConfig(patch: unknown, dryRun = false): Promise<AppliedConfig> {
    const run = this.applying.then(() => this.applyNow(patch, dryRun));
    this.applying = run.catch(() => undefined);
    return run;
  }

  private async applyNow(patch: unknown, dryRun: boolean): Promise<AppliedConfig> {
    const next = applyConfigPatch(this.current, patch);
    if (this.directory.size > 0) {
      const changed = INDEX_SHAPE_KEYS.filter((k) => next.hnsw[k] !== this.current.hnsw[k]);
      if (changed.length > 0) {
        throw new EngramError('CONFIG_NOT_LIVE', `hnsw.${changed.join(', hnsw.')} cannot change while memory spaces exist (${this.directory.size}); they shape every stored index`);
      }
    }
    if (dryRun) return { config: next, hash: configHash(next), generation: this.generation };
    if (canonicalJson(next) === canonicalJson(this.current)) return this.applied;
    this.queue.resize(next.queue.capacity, next.queue.highPriorityRatio);
    this.tenants.reconfigure(next.tenants);
    await this.pool.reconfigure(next);
    this.current = next;
    this.hash = configHash(next);
    this.generation++;
    this.publishConfigMetrics();
    this.options.log.info('config applied', { hash: this.hash, generation: this.generation, profile: next.profile, workers: next.workers });
    for (const session of this.sessions) session.reportPressure();
    return this.applied;
  }

  private publishConfigMetrics(): void {
    this.metrics.configGeneration.set(this.generation);
    this.metrics.configInfo.reset();
    this.metrics.configInfo.set({ config_hash: this.hash, profile: this.current.profile }, 1);
    this.metrics.queueCapacity.set({ priority: 'normal' }, this.queue.observationCapacity);
    this.metrics.queueCapacity.set({ priority: 'high' }, this.queue.recallCapacityLimit);
    this.metrics.tenantVectorQuota.reset();
    for (const t of this.current.tenants) this.metrics.tenantVectorQuota.set({ tenant: t.name }, t.maxVectors);
  }

  private tick(): void {
    for (const session of this.sessions) session.reportPressure();
    const m = this.metrics;
    m.queueDepth.set({ priority: 'normal' }, this.queue.depth);
    m.queueDepth.set({ priority: 'high' }, this.queue.recallDepth);
    m.queueMemory.set(this.queue.memoryBytes);
    m.activeSessions.set(this.sessions.size);
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
  }

  ownerOf(space: string): number {
    return this.pool.ownerOf(space);
  }

  workerLoads() {
    return this.pool.workerLoads();
  }

  /** Resolves once everything queued is indexed (or the deadline passes: false). */
  async drained(deadlineMs: number): Promise<boolean> {
    const until = performance.now() + deadlineMs;
    while (this.queue.depth > 0 || this.pool.batchesInFlight > 0) {
      if (performance.now() > until) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
    return true;
  }

  /** Stops accepting, indexes what is queued (within the deadline), then stops the workers. */
  async close(deadlineMs = 30_000): Promise<void> {
    this.stopping = true;
    const drained = await this.drained(deadlineMs);
    if (!drained) this.options.log.warn('shutdown deadline passed with observations still queued', { queued: this.queue.depth });
    if (this.ticker) clearInterval(this.ticker);
    for (const session of this.sessions) session.close('engine shutting down');
    await this.pool.close();
    if (this.ownsScratch) rmSync(this.scratchDir, { recursive: true, force: true });
  }
}
