// What a hand-off needs from this engine, on either side: the old owner taps a space's queue,
// snapshots its index, waits for it to be quiet and digests its ids; the new owner installs the
// snapshot as its own (durably) and ingests the records that follow; after the flip the old owner
// drops the space for good. Kept apart from the Engine so the hand-off code depends on these
// operations only.
import { join } from 'node:path';
import type { HnswConfig } from '../config/engine-config.js';
import type { DurableStorage } from '../durability/durable-storage.js';
import type { EngineMetrics } from '../metrics/engine-metrics.js';
import type { SnapshotTarget } from '../index/index-data.js';
import type { WorkerPool } from '../pool/worker-pool.js';
import type { IngestQueue, QueuedObservation } from '../queue/ingest-queue.js';
import type { SpaceDirectory } from '../tenancy/space-directory.js';
import { writeFileDurably } from '../wal/durable-files.js';

export interface TransferDeps {
  pool: WorkerPool;
  queue: IngestQueue;
  directory: SpaceDirectory;
  storage: DurableStorage | null;
  metrics: EngineMetrics;
  scratchDir: string;
  hnsw(): HnswConfig;
  /** Makes observations durable in this engine's log (sets their LSNs). */
  persist(items: QueuedObservation[]): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SpaceTransfer {
  constructor(private readonly deps: TransferDeps) {}

  /** Resolves once everything admitted for the space is indexed (or failed). */
  async quiesce(space: string): Promise<void> {
    while ((this.deps.directory.get(space)?.pending ?? 0) > 0 || this.deps.pool.hasUnindexedWork(space)) await sleep(5);
  }

  /** Every observation queued for the space from now on goes to `tap`; returns what is queued or being indexed now. */
  tapSpace(space: string, tap: (items: readonly QueuedObservation[]) => void): { pending: QueuedObservation[]; untap: () => void } {
    const { queued, untap } = this.deps.queue.tap(space, tap);
    return { pending: [...this.deps.pool.inFlightItems(space), ...queued], untap };
  }

  /** Writes a snapshot of the space's index (for a hand-off) and reports its size and parameters. */
  snapshotSpace(space: string, files: SnapshotTarget) {
    return this.deps.pool.snapshotWholeSpace(space, files);
  }

  digest(space: string): Promise<{ count: number; checksum: string }> {
    return this.deps.pool.digest(space);
  }

  get scratch(): string {
    return this.deps.scratchDir;
  }

  /**
   * Forgets a space handed to another pod: its index and directory entry go, and a `dropped`
   * snapshot manifest at the log's current position keeps a restart from loading it or replaying
   * its records.
   */
  async drop(space: string): Promise<void> {
    await this.quiesce(space);
    const indexes = this.deps.pool.indexKeys(space);
    await this.deps.pool.release(space);
    this.deps.directory.remove(space);
    const wal = this.deps.storage?.wal;
    for (const index of indexes) {
      if (this.deps.storage && wal) await this.deps.storage.snapshots.drop(index, wal.nextLsn - 1, this.deps.hnsw());
    }
    this.deps.metrics.spaceVectors.remove({ memory_space: space });
    this.deps.metrics.spaceShards.remove({ memory_space: space });
  }

  /**
   * Takes a space's snapshot from its previous owner: written to the data directory as the
   * space's snapshot (covering this engine's log up to now, so older records of a stale copy are
   * not replayed over it) and loaded by a worker.
   */
  async installTransferred(space: string, graph: Buffer | null, state: Buffer, hnsw: HnswConfig): Promise<number> {
    const wal = this.deps.storage?.wal;
    const lsn = wal ? wal.nextLsn - 1 : 0;
    let files;
    let commit: ((size: number) => Promise<void>) | null = null;
    if (this.deps.storage && wal) {
      const prepared = await this.deps.storage.snapshots.prepare(space);
      files = prepared.files;
      const { generation } = prepared;
      commit = (size) => this.deps.storage!.snapshots.commit({
        space, generation, lsn, size, hnsw, graph: graph ? `${generation}.hnsw` : null, state: `${generation}.state.json`,
      });
    } else {
      const base = join(this.deps.scratchDir, `import-${process.pid}-${space}-${Date.now()}`);
      files = { graphPath: `${base}.hnsw`, statePath: `${base}.state.json` };
    }
    if (graph) await writeFileDurably(files.graphPath, graph);
    await writeFileDurably(files.statePath, state);
    const report = await this.deps.pool.restore(space, { graphPath: graph ? files.graphPath : null, statePath: files.statePath }, hnsw, lsn);
    if (commit) await commit(report.size);
    const record = this.deps.directory.restore(space);
    record.indexed = report.size;
    this.deps.metrics.spaceVectors.set({ memory_space: space }, report.size);
    return report.size;
  }

  /** Makes transferred records durable in this engine's log and queues them for indexing. */
  async ingestTransferred(space: string, items: QueuedObservation[]): Promise<void> {
    if (items.length === 0) return;
    this.deps.queue.reserve(items.length);
    const record = this.deps.directory.restore(space);
    record.pending += items.length;
    try {
      await this.deps.persist(items);
    } catch (e) {
      this.deps.queue.release(items.length);
      record.pending -= items.length;
      throw e;
    }
    this.deps.queue.push(space, items, items.length);
    this.deps.pool.queued(space);
  }
}
