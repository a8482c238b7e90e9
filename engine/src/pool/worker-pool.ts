// The worker pool: a set of worker threads, each owning the HNSW indexes of some memory spaces.
// It is assembled from one ownership state and the modules around it: dispatch (batches to
// owners, outcomes to the acknowledgement side), space placement (the ring, moves, steals,
// resizes), supervision (a dead worker replaced and its spaces recovered), owner requests
// (recalls, lookups, snapshots) and background index rebuilds. This file wires them and is the
// pool's face to the engine; the state machine itself lives in ownership.ts.
import { performance } from 'node:perf_hooks';
import type { EngineConfig, HnswConfig } from '../config/engine-config.js';
import type { Logger } from '../log.js';
import type { EngineMetrics } from '../metrics/engine-metrics.js';
import type { IngestQueue, QueuedObservation } from '../queue/ingest-queue.js';
import type { FetchedData, SnapshotFiles, SnapshotTarget } from '../index/index-data.js';
import type { SpaceReport, ToWorker } from '../worker/messages.js';
import { Dispatcher, type IndexedBatchSink } from './dispatch.js';
import { HashRing } from './hash-ring.js';
import { RebuildScheduler, type RebuildStatus } from './index-rebuild.js';
import { OwnerRequests, type RecallResult } from './owner-requests.js';
import { Ownership } from './ownership.js';
import { SpacePlacement } from './space-placement.js';
import type { SpaceStore } from './space-recovery.js';
import { Supervisor } from './supervision.js';
import type { WorkerRequest } from './worker-slot.js';
import { Workers } from './workers.js';

export type { BatchOutcome, IndexedBatchSink } from './dispatch.js';
export type { RecallResult } from './owner-requests.js';

export interface PoolOptions {
  config: EngineConfig;
  queue: IngestQueue;
  metrics: EngineMetrics;
  scratchDir: string;
  /** Where finished batches are reported (the acknowledgement side). */
  acks: IndexedBatchSink;
  /** A worker died; it is being replaced and its spaces recovered. */
  onWorkerFailed(workerId: number, error: Error): void;
  /** Log records of a recovering space were queued again (they count as pending). */
  onReplayQueued(space: string, count: number): void;
  /** Snapshots and the log, to recover a dead worker's spaces (null: no data directory). */
  store: SpaceStore | null;
  log: Logger;
  /** Whether a steal of `space` fits in memory now (see SpacePlacementDeps.canSteal). */
  canSteal?: (space: string) => boolean;
  workerScript?: URL;
}

export class WorkerPool {
  private config: EngineConfig;
  private readonly workers: Workers;
  private readonly ownership: Ownership;
  private readonly dispatcher: Dispatcher;
  private readonly placement: SpacePlacement;
  private readonly supervisor: Supervisor;
  private readonly requests: OwnerRequests;
  /** Rebuilds of indexes whose M / ef_construction differ from the config's. */
  private readonly rebuilds: RebuildScheduler;

  constructor(private readonly options: PoolOptions) {
    this.config = options.config;
    const { queue, metrics, log } = options;
    const config = (): EngineConfig => this.config;
    this.workers = new Workers({
      hnsw: () => this.config.hnsw, metrics,
      script: options.workerScript ?? new URL('../worker/worker-main.js', import.meta.url),
      handlers: {
        batchDone: (slot, message) => this.dispatcher.batchDone(slot, message),
        failed: (slot, error) => this.supervisor.workerFailed(slot, error),
      },
    });
    this.ownership = new Ownership(new HashRing(Array.from({ length: this.config.workers }, (_, i) => i)), () => performance.now(), () => this.dispatcher.schedule());
    const { workers, ownership } = this;
    this.requests = new OwnerRequests({ workers, ownership, config, rebuilds: () => this.rebuilds });
    this.rebuilds = new RebuildScheduler({
      target: () => this.config.hnsw, settled: (space) => ownership.settled(space),
      request: (space, build) => this.requests.report(space, build), post: (space, message) => this.requests.post(space, message),
      scratchDir: options.scratchDir, metrics, log,
    });
    this.dispatcher = new Dispatcher({
      workers, ownership, queue, metrics, config, acks: options.acks,
      beforeBatch: (space) => this.rebuilds.noteNew(space),
      afterPump: () => this.placement.maybeSteal(),
    });
    this.placement = new SpacePlacement({
      workers, ownership, dispatcher: this.dispatcher, rebuilds: this.rebuilds, queue, metrics, config,
      scratchDir: options.scratchDir, log, canSteal: options.canSteal,
    });
    this.supervisor = new Supervisor({
      workers, ownership, dispatcher: this.dispatcher, queue, store: options.store, log,
      onWorkerFailed: options.onWorkerFailed, onReplayQueued: options.onReplayQueued,
      onRestored: (space, hnsw) => this.rebuilds.builtWith(space, hnsw ?? this.config.hnsw),
      onRecovered: () => this.rebuilds.schedule(),
    });
  }

  get workerCount(): number {
    return this.workers.count;
  }

  start(): Promise<void> {
    return this.workers.start(this.config.workers);
  }

  /** Crashes a worker thread (a failure drill); false if there is no such live worker. */
  killWorker(id: number): boolean {
    const slot = this.workers.find(id);
    if (!slot || slot.failure || slot.retiring) return false;
    slot.crash();
    return true;
  }

  /** Workers being replaced after a failure (the engine is not ready meanwhile). */
  get workersRestarting(): number {
    return this.supervisor.workersRestarting;
  }

  /** The worker that owns `space`, assigning it by the ring on first sight. */
  ownerOf(space: string): number {
    return this.ownership.ownerOf(space);
  }

  /** Observations were queued for `space`: make sure it has an owner and dispatch soon. */
  queued(space: string): void {
    this.ownership.ownerOf(space);
    this.dispatcher.schedule();
  }

  recall(space: string, vector: Float32Array, k: number, ef: number, signal?: AbortSignal): Promise<RecallResult> {
    return this.requests.recall(space, vector, k, ef, signal);
  }

  fetch(space: string, ids: string[]): Promise<{ found: FetchedData[]; missing: string[] }> {
    return this.requests.fetch(space, ids);
  }

  /** Count and checksum of the ids the space's index holds (after any move or recovery). */
  digest(space: string): Promise<{ count: number; checksum: string }> {
    return this.requests.digest(space);
  }

  /** Sends a keyed request to the owner of `space` (after any move or recovery) and returns its report. */
  requestOnOwner(space: string, build: (key: string) => WorkerRequest): Promise<SpaceReport> {
    return this.requests.report(space, build);
  }

  /** Writes a snapshot of the space on its owner (what it has indexed now, and that LSN). */
  snapshot(space: string, files: SnapshotTarget): Promise<SpaceReport> {
    return this.requests.snapshot(space, files);
  }

  /** Loads a space from its snapshot onto the worker the ring gives it (at start, or a hand-off). */
  restore(space: string, files: SnapshotFiles, hnsw: HnswConfig, lsn: number): Promise<SpaceReport> {
    return this.requests.restore(space, files, hnsw, lsn);
  }

  /** Forgets a space whose queue is empty (it now lives on another pod): its worker drops the index. */
  release(space: string): Promise<void> {
    return this.requests.release(space);
  }

  /** Posts to the owner of a space without waiting. */
  postToOwner(space: string, message: ToWorker): void {
    this.requests.post(space, message);
  }

  /** Observations of the space in batches its worker is indexing now. */
  inFlightItems(space: string): QueuedObservation[] {
    return this.dispatcher.inFlightItems(space);
  }

  /** Spaces the pool knows, each with the highest LSN its worker indexed. */
  spaceLsns(): Map<string, number> {
    return new Map(this.ownership.spaces().map((s) => [s, this.ownership.indexedLsn(s)]));
  }

  /** True while the space has log records not yet in its index: queued, in flight, moving or recovering. */
  hasUnindexedWork(space: string): boolean {
    if (this.options.queue.depthOf(space) > 0 || this.ownership.isUnsettled(space)) return true;
    return this.workers.all().some((s) => s.inFlightOf(space) > 0);
  }

  /**
   * Applies a new config live. Batch, linger and steal knobs take effect at the next dispatch; a
   * new efSearch is sent to every worker; a new worker count starts or retires workers and moves
   * exactly the spaces whose owner the new ring changes (steals are undone at the same time).
   */
  async reconfigure(config: EngineConfig): Promise<void> {
    const previous = this.config;
    this.config = config;
    if (config.hnsw !== previous.hnsw) this.workers.broadcast({ type: 'configure', hnsw: config.hnsw });
    if (config.workers !== this.workers.count) await this.placement.resize(config.workers);
    this.dispatcher.schedule();
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

  /** Per-worker figures for stats and metrics; utilisation is computed by the caller over time. */
  workerLoads(): Array<{ id: number; queued: number; spaces: number; batches: number; indexed: number; stolen: number; busyMs: number }> {
    return this.workers.all().map((slot) => {
      const spaces = this.ownership.spacesOf(slot.id);
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

  /** Resolves once nothing is queued and no batch is in flight. */
  drained(): Promise<void> {
    return this.dispatcher.drained();
  }

  async close(): Promise<void> {
    this.supervisor.close();
    this.rebuilds.stop();
    this.dispatcher.close();
    this.placement.close();
    await this.workers.close();
  }
}
