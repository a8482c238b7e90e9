// Where each memory space's index lives among the workers, and moving it: to its ring owner after
// a worker-count change, or to an idle worker that steals it from a busy one. A move holds the
// space back until its in-flight batches are done, has the old owner write the index and the new
// one read it, and only then hands ownership over: a failed move leaves the space where it was.
import { join } from 'node:path';
import type { EngineConfig } from '../config/engine-config.js';
import { EngramError } from '../errors.js';
import type { Logger } from '../log.js';
import type { EngineMetrics } from '../metrics/engine-metrics.js';
import type { IngestQueue } from '../queue/ingest-queue.js';
import type { FromWorker } from '../worker/messages.js';
import { chooseSteal, type WorkerLoad } from './balancer.js';
import type { Dispatcher } from './dispatch.js';
import { HashRing } from './hash-ring.js';
import type { RebuildScheduler } from './index-rebuild.js';
import type { Ownership } from './ownership.js';
import { backlogOf } from './shard-layout.js';
import type { Workers } from './workers.js';

/** A space that just moved is not stolen again for this long (an index move is not free). */
const STEAL_COOLDOWN_MS = 1000;
/** How soon placement is tried again after a space could not be moved to its ring owner. */
const PLACEMENT_RETRY_MS = 5000;

export interface SpacePlacementDeps {
  workers: Workers;
  ownership: Ownership;
  dispatcher: Dispatcher;
  rebuilds: RebuildScheduler;
  queue: IngestQueue;
  metrics: EngineMetrics;
  config(): EngineConfig;
  scratchDir: string;
  log: Logger;
  /**
   * Whether a steal of `space` fits in memory now. A move holds two copies of the graph until the
   * old owner drops it, and passes it through a scratch file the page cache keeps (33 MiB seen for
   * one space): near a memory limit, more than the headroom.
   */
  canSteal?: (space: string) => boolean;
  /** Whether an index may move now (not while its space is resharded: the reshard addresses it on its owner). */
  canMove(key: string): boolean;
}

export class SpacePlacement {
  private nextMoveId = 1;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: SpacePlacementDeps) {}

  /** Moves a space's index from its owner to worker `to`; dispatch and recalls of it wait meanwhile. */
  move(space: string, to: number): Promise<void> {
    const { ownership } = this.deps;
    const from = ownership.ownerOf(space);
    const pending = ownership.placement(space);
    if (pending || from === to) return pending ?? Promise.resolve();
    const move = this.runMove(space, from, to);
    ownership.beginMove(space, move);
    return move;
  }

  private async runMove(space: string, from: number, to: number): Promise<void> {
    // A rebuild in progress remembers changes on this worker: let it finish first.
    await this.deps.rebuilds.waitFor(space);
    const source = this.deps.workers.get(from);
    const target = this.deps.workers.get(to);
    await source.spaceDrained(space);
    const moveId = this.nextMoveId++;
    const path = join(this.deps.scratchDir, `move-${process.pid}-${moveId}-${space}.hnsw`);
    const exported = await source.request({ type: 'export', key: `move:${moveId}:export`, space, path });
    if (exported.type !== 'exported') throw this.moveFailure(space, from, to, exported);
    const imported = await target.request({ type: 'import', key: `move:${moveId}:import`, space, path, state: exported.state });
    if (imported.type !== 'imported') throw this.moveFailure(space, from, to, imported);
    // Only now does the old owner let go: until here, a failure leaves the space where it was.
    this.deps.ownership.assign(space, to);
    source.post({ type: 'drop', space });
  }

  private moveFailure(space: string, from: number, to: number, reply: FromWorker): EngramError {
    this.deps.metrics.moveFailures.inc();
    const reason = reply.type === 'moveFailed' ? `${reply.step} failed: ${reply.reason}` : `unexpected reply ${reply.type}`;
    return new EngramError('INTERNAL', `could not move memory space '${space}' from worker ${from} to worker ${to} (${reason}); it stays on worker ${from}`);
  }

  /** Moves a space from a worker with a backlog to an idle one, if the balancer finds a worthwhile one. */
  maybeSteal(): void {
    const { ownership, workers, queue } = this.deps;
    const threshold = this.deps.config().stealThreshold;
    if (threshold <= 0 || ownership.placementsInProgress > 0) return;
    // Cheap test first: stealing needs an idle worker, and this runs after every dispatch.
    const live = workers.live();
    if (!live.some((s) => s.inFlight === 0)) return;
    const ringSize = ownership.ringSize;
    // Indexes move, not spaces: a shard of a split space can be stolen on its own.
    const loads: WorkerLoad[] = live.map((slot) => {
      const owned = ownership.keysOf(slot.id);
      const queued = owned.reduce((n, key) => n + backlogOf(queue, key), 0);
      const spaces = owned
        .filter((key) => !ownership.movedWithin(key, STEAL_COOLDOWN_MS) && !this.deps.rebuilds.isRebuilding(key) && this.deps.canMove(key))
        .map((key) => ({ space: key, queued: backlogOf(queue, key), inFlight: slot.inFlightOf(key) }));
      return { id: slot.id, queued, idle: queued === 0 && slot.inFlight === 0 && slot.id < ringSize, spaces };
    });
    const decision = chooseSteal(loads, threshold);
    if (!decision || this.deps.canSteal?.(decision.space) === false) return;
    const thief = workers.get(decision.to);
    // A failed steal leaves the space where it was (counted in move failures); nothing to undo.
    void this.move(decision.space, decision.to).then(() => {
      thief.stolen++;
      this.deps.metrics.workStolen.inc({ worker_id: String(decision.to) });
    }, (e: unknown) => this.deps.log.warn('work steal failed', { error: e instanceof Error ? e.message : String(e) }));
  }

  /**
   * A new worker count: starts workers, or marks those beyond it retiring, and moves exactly the
   * spaces whose owner the new ring changes (steals are undone at the same time).
   */
  async resize(count: number): Promise<void> {
    const { workers, ownership } = this.deps;
    await workers.grow(count);
    for (const slot of workers.all().slice(count)) slot.retiring = true;
    ownership.setRing(new HashRing(Array.from({ length: count }, (_, i) => i)));
    await this.placeByRing();
  }

  /**
   * Moves every space to its ring owner, then stops the workers beyond the ring that own nothing.
   * A failed move leaves its space, and so its worker, where it was: that worker keeps serving it
   * and placement is tried again a few seconds later, until it matches the ring (level-based, so
   * a full or missing scratch directory delays a resize but never loses a space).
   */
  private async placeByRing(): Promise<void> {
    const { workers, ownership, log } = this.deps;
    // An index that may not move now stays, and so does its worker: the retry below comes back for it.
    const moves = ownership.keys().filter((key) => this.deps.canMove(key)).map((key) => this.move(key, ownership.ringOwner(key)));
    const failed = (await Promise.allSettled(moves)).filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    for (const f of failed) log.warn('memory space move failed', { error: String(f.reason?.message ?? f.reason) });
    const ringSize = ownership.ringSize;
    while (workers.count > ringSize && ownership.keysOf(workers.count - 1).length === 0) await workers.retireLast();
    for (const slot of workers.all().slice(ringSize)) slot.retiring = false; // still serving what it could not hand over
    if (workers.count > ringSize && !this.retryTimer) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        void this.placeByRing();
      }, PLACEMENT_RETRY_MS);
    }
  }

  close(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }
}
