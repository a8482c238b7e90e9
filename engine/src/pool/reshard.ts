// Resharding a memory space live: from S shards to S', while writes and recalls go on. Level-based:
// any space whose shard count differs from the one the config gives it is resharded, one space at
// a time, and a reshard that fails is tried again later. One reshard:
//   1. each old shard's worker writes a copy of its index; from that same instant every batch
//      dispatched for the space is also recorded (what the copies lack is exactly what is recorded);
//   2. a background thread builds the new shards from the copies, and their workers load them;
//   3. what was recorded is indexed into the new shards (without acknowledging it again), while
//      that leaves less each time, until little is left; then the space's dispatch is held, its
//      last batches finish, the rest is indexed, and the layout switches in one step: dispatch
//      resumes on the new shards, recalls go to them, and the old shards are dropped once no
//      request uses them;
//   4. the engine then makes the new layout durable (snapshots of the new shards, then the old
//      shards' snapshots removed); until it has, the log keeps what the old shards' snapshots need.
// Recalls are answered by the old layout up to the switch, by the new one after it, never a mix.
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EngineConfig } from '../config/engine-config.js';
import type { SnapshotTarget } from '../index/index-data.js';
import type { Logger } from '../log.js';
import type { EngineMetrics } from '../metrics/engine-metrics.js';
import type { QueuedObservation } from '../queue/ingest-queue.js';
import type { SpaceReport } from '../worker/messages.js';
import type { Dispatcher } from './dispatch.js';
import type { Ownership } from './ownership.js';
import type { OwnerRequests } from './owner-requests.js';
import { groupBy } from './group-by.js';
import { buildLayout, type ShardCopy } from './reshard-build.js';
import { parseShardKey, shardKeyOfId, shardKeys } from './shard-key.js';
import type { ShardLayout } from './shard-layout.js';
import type { WorkerSlot } from './worker-slot.js';
import type { Workers } from './workers.js';

const RESHARD_NICE = Number(process.env.ENGRAM_WORKER_NICE ?? 10);
const RETRY_MS = 1000;
/** Recorded observations left over which the catch-up goes on before dispatch is held for the switch. */
const SWITCH_BACKLOG = 2000;

export interface ReshardDeps {
  workers: Workers;
  ownership: Ownership;
  layout: ShardLayout;
  dispatcher: Dispatcher;
  requests: OwnerRequests;
  /** The shard count the config gives a space. */
  target(space: string): number;
  config(): EngineConfig;
  /** Resolves when the index is neither moving, recovering nor being rebuilt. */
  quiet(key: string): Promise<void>;
  /**
   * Whether resharding `space` fits in memory now: the old shards, their copies and the new
   * shards are all held at once for a while.
   */
  fits(space: string): boolean;
  /** The space now has this layout; resolves once it is durable (the old shards' snapshots may go). */
  switched(space: string, from: string[], to: string[]): Promise<void>;
  scratchDir: string;
  metrics: EngineMetrics;
  log: Logger;
}

/** Where resharding stands: what an engine reports with its config. */
export interface ReshardStatus {
  /** Memory spaces whose shard count still differs from the config's. */
  spacesPending: number;
  /** The space being resharded now, and how far its build is (0 to 1). */
  current: { space: string; from: number; to: number; progress: number } | null;
}

let nextReshard = 1;

export class Resharder {
  private loop: Promise<void> | null = null;
  private stopped = false;
  private current: ReshardStatus['current'] = null;
  /** Indexes of a reshard in progress: not moved, not stolen, not snapshotted before the switch. */
  private readonly busy = new Set<string>();
  /** Old shards of switched layouts not yet durable: the log keeps what their snapshots need. */
  private readonly retained = new Set<string>();
  /** Said once while every pending reshard waits for memory. */
  private waitingForMemory = false;
  /** Incremented by every worker failure: a reshard that sees it change gives up. */
  private failures = 0;

  constructor(private readonly deps: ReshardDeps) {
    // Counters of rare events exist at 0 from the start (increase() misses a series' first event).
    for (const result of ['done', 'failed']) deps.metrics.reshards.inc({ result }, 0);
  }

  /** Spaces the pool knows whose layout differs from the config's. */
  private stale(): string[] {
    const spaces = new Set(this.deps.ownership.keys().map((key) => parseShardKey(key).space));
    return [...spaces].filter((space) => this.deps.layout.countOf(space) !== this.deps.target(space));
  }

  status(): ReshardStatus {
    return { spacesPending: this.stale().length, current: this.current };
  }

  /** Whether a reshard runs now. */
  get running(): boolean {
    return this.current !== null;
  }

  /** True for an index of a space being resharded (old or new layout). */
  isResharding(key: string): boolean {
    return this.busy.has(key);
  }

  /** New shards not switched to yet: not the space's layout, so not snapshotted. */
  isPending(key: string): boolean {
    return this.busy.has(key) && !this.deps.layout.keysOf(parseShardKey(key).space).includes(key);
  }

  /** Old shards whose snapshots the log must still serve (their layout is not yet durably replaced). */
  retainedIndexes(): string[] {
    return [...this.retained];
  }

  workerFailed(): void {
    this.failures++;
  }

  /** Starts resharding stale spaces in the background, unless that is already going on. */
  schedule(): void {
    if (this.loop || this.stopped || this.stale().length === 0) return;
    this.loop = this.run().finally(() => {
      this.loop = null;
      this.deps.metrics.reshardsPending.set(this.stale().length);
    });
  }

  stop(): void {
    this.stopped = true;
  }

  private async run(): Promise<void> {
    const { metrics, log, layout } = this.deps;
    for (let stale = this.stale(); stale.length > 0 && !this.stopped; stale = this.stale()) {
      metrics.reshardsPending.set(stale.length);
      const space = stale.find((s) => this.deps.fits(s));
      if (space === undefined) {
        if (!this.waitingForMemory) log.warn('reshards wait for memory: the engine is near its memory limit', { spaces: stale });
        this.waitingForMemory = true;
        await new Promise((r) => setTimeout(r, RETRY_MS));
        continue;
      }
      this.waitingForMemory = false;
      const from = layout.countOf(space);
      const to = this.deps.target(space);
      const started = performance.now();
      try {
        const vectors = await this.reshard(space, from, to);
        metrics.reshards.inc({ result: 'done' });
        log.info('memory space resharded', { space, from, to, vectors, seconds: Number(((performance.now() - started) / 1000).toFixed(2)) });
      } catch (e) {
        metrics.reshards.inc({ result: 'failed' });
        log.warn('memory space reshard failed; trying again', { space, from, to, error: e instanceof Error ? e.message : String(e) });
        await new Promise((r) => setTimeout(r, RETRY_MS));
      } finally {
        this.current = null;
        metrics.reshardProgress.set(0);
      }
    }
  }

  private async reshard(space: string, fromCount: number, toCount: number): Promise<number> {
    const { dispatcher, ownership } = this.deps;
    const from = shardKeys(space, fromCount);
    const to = shardKeys(space, toCount);
    this.current = { space, from: fromCount, to: toCount, progress: 0 };
    for (const key of [...from, ...to]) this.busy.add(key);
    const failuresAtStart = this.failures;
    const check = (): void => {
      if (this.failures !== failuresAtStart) throw new Error('a worker failed during the reshard');
      if (this.stopped) throw new Error('the engine is stopping');
    };
    let captured: QueuedObservation[] | null = null;
    let loaded: string[] = [];
    const stem = join(this.deps.scratchDir, `reshard-${process.pid}-${nextReshard++}-${space}`);
    try {
      for (const key of from) await this.deps.quiet(key);
      for (const key of to) ownership.ownerOf(key);
      // 1. The copies and the recording start in the same turn of the event loop.
      const copies = from.map((key, i) => this.copyOf(key, `${stem}.old-${i}.hnsw`));
      captured = dispatcher.capture(space);
      const sources = await Promise.all(copies);
      check();
      // 2. The new shards, built in the background and loaded by their workers.
      const built = await buildLayout(sources, to.map((_, i) => `${stem}.new-${i}.hnsw`), this.deps.config().hnsw, RESHARD_NICE,
        (p) => {
          if (this.current) this.current.progress = p.total === 0 ? 1 : p.done / p.total;
          this.deps.metrics.reshardProgress.set(this.current?.progress ?? 0);
        });
      check();
      loaded = to;
      await Promise.all(to.map((key, i) => this.load(key, built[i]!)));
      check();
      // 3. Catch up on what was written meanwhile, while it shrinks (under a load the workers
      // cannot keep up with twice, it does not: then the switch holds the space at once).
      for (let last = Infinity; captured.length > SWITCH_BACKLOG && captured.length < last;) {
        last = captured.length;
        await this.copy(space, captured.splice(0), toCount);
        check();
      }
      dispatcher.hold(space);
      try {
        await Promise.all(from.map((key) => this.ownerSlot(key).spaceDrained(key)));
        await this.copy(space, captured.splice(0), toCount);
        check();
        dispatcher.stopCapture(space);
        captured = null;
        this.deps.layout.set(space, toCount);
        for (const key of from) this.retained.add(key);
      } finally {
        dispatcher.resume(space);
      }
      loaded = [];
      // 4. The old shards go once nothing uses them; the engine makes the new layout durable.
      await this.deps.requests.retire(from);
      await this.deps.switched(space, from, to);
      for (const key of from) this.retained.delete(key);
      return to.reduce((n, key) => n + ownership.sizeOf(key), 0);
    } finally {
      if (captured) dispatcher.stopCapture(space);
      if (loaded.length > 0) await this.deps.requests.retire(loaded);
      for (const key of [...from, ...to]) this.busy.delete(key);
      await removeScratch(stem, fromCount, toCount);
    }
  }

  private ownerSlot(key: string): WorkerSlot {
    return this.deps.workers.get(this.deps.ownership.ownerOf(key));
  }

  /**
   * A snapshot of a split space as one index, for a hand-off to another pod (which takes one index
   * per space, and reshards it to the count its own config gives). The copies of its shards are
   * taken in one turn of the event loop, as a reshard's are; waits out a reshard of the space.
   */
  async snapshotMerged(space: string, files: SnapshotTarget): Promise<SpaceReport> {
    while (this.current?.space === space) await new Promise((r) => setTimeout(r, 50));
    const keys = this.deps.layout.keysOf(space);
    for (const key of keys) await this.deps.quiet(key);
    const stem = join(this.deps.scratchDir, `merge-${process.pid}-${nextReshard++}-${space}`);
    try {
      const copies = await Promise.all(keys.map((key, i) => this.copyOf(key, `${stem}.old-${i}.hnsw`)));
      const hnsw = this.deps.config().hnsw;
      const [merged] = await buildLayout(copies, [files.graphPath], hnsw, RESHARD_NICE, () => undefined);
      const { ids, contents, metadata, lsn } = merged!.state;
      await writeFile(files.statePath, JSON.stringify({ ids, contents, metadata }));
      return { space, size: ids.length, lsn, hnsw };
    } finally {
      await removeScratch(stem, keys.length, 0);
    }
  }

  /** Has the index's worker write a copy of it (graph file and state). */
  private async copyOf(key: string, path: string): Promise<ShardCopy> {
    const reply = await this.ownerSlot(key).request({ type: 'export', key: `reshard:${path}`, space: key, path });
    if (reply.type !== 'exported') throw new Error(`copy of ${key} failed: ${reply.type === 'moveFailed' ? reply.reason : reply.type}`);
    return { graphPath: reply.state && reply.state.ids.length > 0 ? path : null, state: reply.state };
  }

  /** Loads a built shard on its worker (an empty one is created by its first batch). */
  private async load(key: string, shard: { graphPath: string | null; state: ShardCopy['state'] }): Promise<void> {
    if (!shard.graphPath || !shard.state) return;
    const reply = await this.ownerSlot(key).request({ type: 'import', key: `reshard:${shard.graphPath}`, space: key, path: shard.graphPath, state: shard.state });
    if (reply.type !== 'imported') throw new Error(`loading ${key} failed: ${reply.type === 'moveFailed' ? reply.reason : reply.type}`);
    this.deps.ownership.noteSize(key, reply.spaceSize);
    this.deps.ownership.noteIndexed(key, shard.state.lsn);
  }

  /**
   * Indexes recorded observations into the new layout's shards, each to the shard of its id, in
   * batches no larger than the config's (a worker answers recalls only between two inserts of a
   * batch, and takes its other spaces' batches only between batches).
   */
  private async copy(space: string, items: QueuedObservation[], toCount: number): Promise<void> {
    const byShard = groupBy(items, (item) => shardKeyOfId(space, item.id, toCount));
    const size = this.deps.config().batch.max;
    const sent: Array<Promise<void>> = [];
    for (const [key, some] of byShard) {
      for (let at = 0; at < some.length; at += size) sent.push(this.deps.dispatcher.copyTo(key, some.slice(at, at + size)));
    }
    await Promise.all(sent);
  }
}

async function removeScratch(stem: string, from: number, to: number): Promise<void> {
  const paths = [...Array.from({ length: from }, (_, i) => `${stem}.old-${i}.hnsw`), ...Array.from({ length: to }, (_, i) => `${stem}.new-${i}.hnsw`)];
  await Promise.all(paths.map((p) => rm(p, { force: true })));
}
