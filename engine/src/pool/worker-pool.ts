// The worker pool: a set of worker threads, each owning HNSW indexes (a memory space's, or one
// shard's of a split space). It is assembled from one ownership state and the modules around it:
// the shard layout (how many shards each space has), dispatch (batches split by shard to their
// owners, outcomes to the acknowledgement side), space placement (the ring, moves, steals,
// resizes), supervision (a dead worker replaced and its indexes recovered), owner requests
// (recalls fanned out over shards, lookups, snapshots), and background work: index rebuilds,
// live reshards and automatic splits. This file wires them and is the pool's face to the engine;
// the state machine itself lives in ownership.ts.
import { performance } from 'node:perf_hooks';
import type { EngineConfig, HnswConfig } from '../config/engine-config.js';
import type { Logger } from '../log.js';
import type { EngineMetrics } from '../metrics/engine-metrics.js';
import type { IngestQueue, QueuedObservation } from '../queue/ingest-queue.js';
import type { FetchedData, SnapshotFiles, SnapshotTarget } from '../index/index-data.js';
import type { SpaceReport } from '../worker/messages.js';
import { Dispatcher, type IndexedBatchSink } from './dispatch.js';
import { HashRing } from './hash-ring.js';
import { RebuildScheduler, type RebuildStatus } from './index-rebuild.js';
import { OwnerRequests, type RecallResult } from './owner-requests.js';
import { Ownership } from './ownership.js';
import { Resharder, type ReshardStatus } from './reshard.js';
import { AutoSplit } from './auto-split.js';
import { parseShardKey } from './shard-key.js';
import { backlogOf, ShardLayout, shardsFor } from './shard-layout.js';
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
  /**
   * A space was resharded: its layout is now `to`. Resolves once that is durable (the new shards
   * snapshotted, the old shards' snapshots removed); until then the log keeps what they need.
   */
  onLayoutSwitched?: (space: string, from: string[], to: string[]) => Promise<void>;
  /** Whether resharding `space` fits in memory now (it holds the space about three times for a while). */
  canReshard?: (space: string) => boolean;
  workerScript?: URL;
}

export class WorkerPool {
  private config: EngineConfig;
  private readonly workers: Workers;
  private readonly ownership: Ownership;
  private readonly layout: ShardLayout;
  private readonly dispatcher: Dispatcher;
  private readonly placement: SpacePlacement;
  private readonly supervisor: Supervisor;
  private readonly requests: OwnerRequests;
  /** Rebuilds of indexes whose M / ef_construction differ from the config's. */
  private readonly rebuilds: RebuildScheduler;
  /** Live reshards of spaces whose shard count differs from the config's. */
  private readonly resharder: Resharder;
  private readonly autoSplit: AutoSplit;
  /** Set once start-up recovery is done: from then on background work may start at any time. */
  private backgroundStarted = false;

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
    this.layout = new ShardLayout((space) => this.targetShards(space));
    const { workers, ownership, layout } = this;
    this.requests = new OwnerRequests({ workers, ownership, layout, config, rebuilds: () => this.rebuilds });
    this.rebuilds = new RebuildScheduler({
      target: () => this.config.hnsw, settled: (space) => ownership.settled(space),
      request: (space, build) => this.requests.report(space, build), post: (space, message) => this.requests.post(space, message),
      scratchDir: options.scratchDir, metrics, log,
    });
    this.dispatcher = new Dispatcher({
      workers, ownership, layout, queue, metrics, config, acks: options.acks,
      beforeBatch: (space) => this.rebuilds.noteNew(space),
      afterPump: () => {
        this.placement.maybeSteal();
        if (this.backgroundStarted) this.autoSplit.check();
      },
    });
    this.resharder = new Resharder({
      workers, ownership, layout, dispatcher: this.dispatcher, requests: this.requests, config,
      target: (space) => this.targetShards(space),
      quiet: async (key) => {
        await this.rebuilds.waitFor(key);
        await ownership.settled(key);
      },
      switched: options.onLayoutSwitched ?? (() => Promise.resolve()),
      fits: (space) => options.canReshard?.(space) !== false,
      scratchDir: options.scratchDir, metrics, log,
    });
    this.autoSplit = new AutoSplit({
      config, queue, workers, layout, log, now: () => performance.now(),
      spaces: () => new Set(ownership.keys().map((key) => parseShardKey(key).space)),
      resharding: () => this.resharder.running,
      split: () => this.resharder.schedule(),
    });
    this.placement = new SpacePlacement({
      workers, ownership, dispatcher: this.dispatcher, rebuilds: this.rebuilds, queue, metrics, config,
      scratchDir: options.scratchDir, log, canSteal: options.canSteal,
      canMove: (key) => !this.resharder.isResharding(key),
    });
    this.supervisor = new Supervisor({
      workers, ownership, dispatcher: this.dispatcher, queue, store: options.store, log,
      abandoned: (key) => this.resharder.isPending(key),
      onWorkerFailed: (id, error) => {
        this.resharder.workerFailed(); // a reshard in progress gives up
        options.onWorkerFailed(id, error);
      },
      onReplayQueued: options.onReplayQueued,
      onRestored: (space, hnsw) => this.rebuilds.builtWith(space, hnsw ?? this.config.hnsw),
      onRecovered: () => {
        this.rebuilds.schedule();
        this.resharder.schedule();
      },
    });
  }

  /** The shard count a space should have: the config's, raised by automatic splitting when it is on. */
  private targetShards(space: string): number {
    const configured = shardsFor(this.config.hnsw, space);
    return this.autoSplit ? this.autoSplit.target(space, configured) : configured;
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

  /** The workers that own the space's indexes (one per shard), assigning them on first sight. */
  ownersOf(space: string): number[] {
    return this.layout.keysOf(space).map((key) => this.ownership.ownerOf(key));
  }

  /** Each shard of the space (one for a space that is not split): its worker and its vectors. */
  shardsOf(space: string): Array<{ shard: number; worker: number; vectors: number }> {
    return this.layout.keysOf(space).map((key, shard) => ({ shard, worker: this.ownership.ownerOf(key), vectors: this.ownership.sizeOf(key) }));
  }

  /** The keys of the space's indexes, one per shard (the space's name for a space not split). */
  indexKeys(space: string): string[] {
    return this.layout.keysOf(space);
  }

  /** Fixes the space's shard count (read from its snapshots at start). */
  fixShards(space: string, count: number): void {
    this.layout.set(space, count);
  }

  /** The key of the index (the shard) `id` belongs to in `space`. */
  indexOf(space: string, id: string): string {
    return this.layout.keyOf(space, id);
  }

  /** Observations were queued for `space`: make sure its indexes have owners and dispatch soon. */
  queued(space: string): void {
    this.ownersOf(space);
    this.dispatcher.schedule();
  }

  recall(space: string, vector: Float32Array, k: number, ef: number, signal?: AbortSignal): Promise<RecallResult> {
    return this.requests.recall(space, vector, k, ef, signal);
  }

  fetch(space: string, ids: string[]): Promise<{ found: FetchedData[]; missing: string[] }> {
    return this.requests.fetch(space, ids);
  }

  /** Count and checksum of the ids the space's indexes hold (after any move or recovery). */
  digest(space: string): Promise<{ count: number; checksum: string }> {
    return this.requests.digest(space);
  }

  /** Sends a keyed request to the owner of an index (after any move or recovery) and returns its report. */
  requestOnOwner(index: string, build: (key: string) => WorkerRequest): Promise<SpaceReport> {
    return this.requests.report(index, build);
  }

  /** Writes a snapshot of one index on its owner (what it has indexed now, and that LSN). */
  snapshot(index: string, files: SnapshotTarget): Promise<SpaceReport> {
    return this.requests.snapshot(index, files);
  }

  /**
   * Loads an index from its snapshot onto the worker the ring gives it (at start, or a hand-off);
   * its space keeps the shard count the key says.
   */
  async restore(index: string, files: SnapshotFiles, hnsw: HnswConfig, lsn: number): Promise<SpaceReport> {
    const { space, count } = parseShardKey(index);
    this.layout.set(space, count);
    const report = await this.requests.restore(index, files, hnsw, lsn);
    // A space handed over from another pod comes as one index: split it as this config says.
    if (this.backgroundStarted) this.resharder.schedule();
    return report;
  }

  /**
   * Writes a snapshot of a whole space as one index, for a hand-off to another pod (which takes
   * one index per space): a split space's shards are merged into one in a background thread.
   */
  snapshotWholeSpace(space: string, files: SnapshotTarget): Promise<SpaceReport> {
    if (this.layout.countOf(space) === 1) return this.requests.snapshot(space, files);
    return this.resharder.snapshotMerged(space, files);
  }

  /** Forgets a space whose queue is empty (it now lives on another pod): its worker drops the index. */
  release(space: string): Promise<void> {
    this.autoSplit.forget(space);
    return this.requests.release(space);
  }


  /** Observations of the space in batches its worker is indexing now. */
  inFlightItems(space: string): QueuedObservation[] {
    return this.dispatcher.inFlightItems(space);
  }

  /**
   * Indexes of the spaces' layouts (one per shard), each with the highest LSN its worker indexed
   * (a reshard's new shards join once the space switches to them).
   */
  indexLsns(): Map<string, number> {
    const keys = this.ownership.keys().filter((key) => !this.resharder.isPending(key));
    return new Map(keys.map((key) => [key, this.ownership.indexedLsn(key)]));
  }

  /** Old shards of switched layouts not yet durably replaced: the log keeps what their snapshots need. */
  retainedIndexes(): string[] {
    return this.resharder.retainedIndexes();
  }

  /**
   * True while log records of the space are not yet in the index (`key`: one of its indexes, or
   * the space's name for all of them): queued, in flight, moving or recovering.
   */
  hasUnindexedWork(key: string): boolean {
    const { space } = parseShardKey(key);
    if (this.options.queue.depthOf(space) > 0) return true;
    const keys = key === space ? this.layout.keysOf(space) : [key];
    return keys.some((k) => this.ownership.isUnsettled(k) || this.workers.all().some((s) => s.inFlightOf(k) > 0));
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
    this.resharder.schedule();
  }

  /** Where live reshards stand. */
  reshardStatus(): ReshardStatus {
    return this.resharder.status();
  }

  /** Where background index rebuilds stand. */
  rebuildStatus(): RebuildStatus {
    return this.rebuilds.status();
  }

  /**
   * Starts the background work a config can leave: rebuilds of indexes built with other M /
   * ef_construction, reshards of spaces with another shard count.
   */
  scheduleBackgroundWork(): void {
    this.backgroundStarted = true;
    this.rebuilds.schedule();
    this.resharder.schedule();
  }

  /** Per-worker figures for stats and metrics; utilisation is computed by the caller over time. */
  workerLoads(): Array<{ id: number; queued: number; spaces: number; batches: number; indexed: number; stolen: number; busyMs: number }> {
    return this.workers.all().map((slot) => {
      const keys = this.ownership.keysOf(slot.id);
      return {
        id: slot.id,
        queued: keys.reduce((n, key) => n + backlogOf(this.options.queue, key), 0),
        spaces: keys.length,
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
    this.resharder.stop();
    this.dispatcher.close();
    this.placement.close();
    await this.workers.close();
  }
}
