// Automatic splitting: a memory space whose queue stays over `hnsw.autoSplit.backlog` for
// SUSTAIN_MS while some worker was busy less than half of that time is given twice its shards
// (up to `hnsw.autoSplit.maxShards`), and the resharder splits it in the background. Work stealing cannot help such a space: it moves
// whole indexes, and one index has one writer. Splits only go up: with auto split on, a space keeps
// the shards it has (its layout survives restarts in its snapshots) unless the config asks for more.
import type { EngineConfig } from '../config/engine-config.js';
import type { Logger } from '../log.js';
import type { IngestQueue } from '../queue/ingest-queue.js';
import type { ShardLayout } from './shard-layout.js';
import type { Workers } from './workers.js';

/** How long a space's backlog must stay over the threshold before it is split. */
const SUSTAIN_MS = 2000;
/** A worker busy less than this share of that time has room for a shard. */
const SPARE_SHARE = 0.5;
/** How often spaces are looked at (the check walks every space with a queue). */
const CHECK_EVERY_MS = 250;

export interface AutoSplitDeps {
  config(): EngineConfig;
  queue: IngestQueue;
  workers: Workers;
  layout: ShardLayout;
  /** The spaces the pool holds. */
  spaces(): Iterable<string>;
  /** Whether a reshard is running now (one at a time: a split waits for it). */
  resharding(): boolean;
  /** A space was given more shards: the resharder should look. */
  split(): void;
  now(): number;
  log: Logger;
}

export class AutoSplit {
  /** Shards each split space was given (beyond what the config says). */
  private readonly given = new Map<string, number>();
  /** When each space's backlog went over the threshold, and how busy each worker had been by then. */
  private readonly overSince = new Map<string, { at: number; busyMs: Map<number, number> }>();
  private lastCheck = -Infinity;

  constructor(private readonly deps: AutoSplitDeps) {}

  /**
   * The shard count a space should have: the config's, raised by auto split when it is on (to what
   * a split gave it, and never below what it has).
   */
  target(space: string, configured: number): number {
    const { backlog, maxShards } = this.deps.config().hnsw.autoSplit;
    if (backlog <= 0) return configured;
    const kept = Math.max(this.given.get(space) ?? 0, this.deps.layout.knownCount(space) ?? 0);
    return Math.max(configured, Math.min(kept, maxShards));
  }

  /** Looks for spaces to split (throttled: call it as often as convenient). */
  check(): void {
    const now = this.deps.now();
    if (now - this.lastCheck < CHECK_EVERY_MS) return;
    this.lastCheck = now;
    const { backlog, maxShards } = this.deps.config().hnsw.autoSplit;
    if (backlog <= 0 || this.deps.resharding()) {
      this.overSince.clear();
      return;
    }
    const over = new Set<string>();
    for (const space of this.deps.spaces()) {
      if (this.deps.queue.depthOf(space) <= backlog) continue;
      over.add(space);
      const since = this.overSince.get(space) ?? { at: now, busyMs: this.busyMs() };
      this.overSince.set(space, since);
      const count = this.deps.layout.countOf(space);
      if (now - since.at < SUSTAIN_MS || count >= maxShards) continue;
      if (!this.someoneHadRoom(since, now)) {
        this.overSince.set(space, { at: now, busyMs: this.busyMs() }); // every worker was busy: look at the next window
        continue;
      }
      const shards = Math.min(count * 2, maxShards);
      this.given.set(space, shards);
      this.overSince.delete(space);
      this.deps.log.info('memory space split automatically: its backlog stayed over the threshold while a worker had room', {
        space, from: count, to: shards, queued: this.deps.queue.depthOf(space), backlog,
      });
      this.deps.split();
      return; // one at a time: the resharder takes spaces one by one
    }
    for (const space of this.overSince.keys()) if (!over.has(space)) this.overSince.delete(space);
  }

  private busyMs(): Map<number, number> {
    return new Map(this.deps.workers.live().map((w) => [w.id, w.busyMs]));
  }

  /** Whether some worker was busy less than SPARE_SHARE of the time since `since`. */
  private someoneHadRoom(since: { at: number; busyMs: Map<number, number> }, now: number): boolean {
    return this.deps.workers.live().some((w) => (w.busyMs - (since.busyMs.get(w.id) ?? w.busyMs)) / (now - since.at) < SPARE_SHARE);
  }

  forget(space: string): void {
    this.given.delete(space);
    this.overSince.delete(space);
  }
}
