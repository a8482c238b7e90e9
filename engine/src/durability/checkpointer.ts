// Checkpoints in the background: every `snapshotIntervalMs`, or once `snapshotLogBytes` of log
// were written since the last one, each memory space with records indexed since its snapshot is
// snapshotted by its worker, then the log segments every snapshot covers are deleted. A segment is
// kept while any space may still need one of its records: a space whose index, queue or in-flight
// work holds records past its snapshot needs everything after that snapshot.
// A snapshot costs memory while it is written: its graph file sits in the page cache until synced
// and dropped, and a container's limit counts that cache. Near the limit a snapshot waits for room
// (its records stay in the log): in the stress suite's memory test a checkpoint added 49 MiB of
// file cache in under a second and the kernel killed the engine at its limit.
import { performance } from 'node:perf_hooks';
import type { DurabilityConfig, HnswConfig } from '../config/engine-config.js';
import type { Logger } from '../log.js';
import type { EngineMetrics } from '../metrics/engine-metrics.js';
import type { WorkerPool } from '../pool/worker-pool.js';
import type { DurableStorage } from './durable-storage.js';
import { graphBytesPerVector } from '../index/vector-graph.js';

const CHECK_EVERY_MS = 500;
const MiB = 1024 * 1024;

/**
 * Bytes a snapshot of `vectors` vectors passes through the page cache: the graph file (see
 * `graphBytesPerVector`), plus a quarter as margin for the state file and the JSON built for it.
 */
export function snapshotBytes(vectors: number, hnsw: Pick<HnswConfig, 'dimension' | 'm' | 'backend' | 'quantization'>): number {
  return Math.ceil(vectors * graphBytesPerVector(hnsw) * 1.25);
}

export interface CheckpointerOptions {
  storage: DurableStorage;
  pool: WorkerPool;
  log: Logger;
  metrics: EngineMetrics;
  settings(): DurabilityConfig;
  /** Bytes a snapshot of `space` would pass through the page cache now. */
  snapshotBytes(space: string): number;
  /** Bytes the engine may still use under its memory watermark (null: no limit). */
  memoryHeadroom(): number | null;
}

export class Checkpointer {
  private running: Promise<void> | null = null;
  private lastAt = performance.now();
  private logMark = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Spaces whose snapshot waited for memory at the last checkpoint: it runs again at every check. */
  private waiting = new Set<string>();

  constructor(private readonly options: CheckpointerOptions) {}

  start(): void {
    this.timer = setInterval(() => this.maybeRun(), CHECK_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private maybeRun(): void {
    const { snapshotIntervalMs, snapshotLogBytes } = this.options.settings();
    const logBytes = this.options.storage.wal?.bytesWritten ?? 0;
    const due = performance.now() - this.lastAt >= snapshotIntervalMs || logBytes - this.logMark >= snapshotLogBytes;
    if (due || this.waiting.size > 0) void this.checkpoint();
  }

  /** Snapshots what changed and truncates the log (one checkpoint at a time). */
  checkpoint(): Promise<void> {
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async run(): Promise<void> {
    this.lastAt = performance.now();
    this.logMark = this.options.storage.wal?.bytesWritten ?? 0;
    // Records appended from here on may not be queued yet when the log is truncated: keep them.
    const boundary = this.options.storage.wal?.nextLsn ?? 0;
    const waiting = new Set<string>();
    for (const [space, indexedLsn] of this.options.pool.indexLsns()) {
      const current = this.options.storage.snapshots.get(space);
      if (current && current.lsn >= indexedLsn) continue;
      if (this.waitsForMemory(space)) waiting.add(space);
      else await this.snapshotSpace(space);
    }
    this.waiting = waiting;
    await this.truncateLog(boundary);
  }

  /** True when writing `space`'s snapshot now would take the engine past its memory watermark (said once a wait). */
  private waitsForMemory(space: string): boolean {
    const { metrics, log } = this.options;
    const headroom = this.options.memoryHeadroom();
    const needs = this.options.snapshotBytes(space);
    if (headroom === null || needs <= headroom) return false;
    if (!this.waiting.has(space)) {
      metrics.snapshots.inc({ result: 'deferred' });
      log.warn('snapshot waits for memory; the log keeps its records until it is written', {
        space, needsMiB: Math.round(needs / MiB), headroomMiB: Math.round(headroom / MiB),
      });
    }
    return true;
  }

  private async snapshotSpace(space: string): Promise<void> {
    const { storage, pool, metrics, log } = this.options;
    const { generation, files } = await storage.snapshots.prepare(space);
    const started = performance.now();
    try {
      const report = await pool.snapshot(space, files);
      await storage.snapshots.commit({
        space, generation, lsn: report.lsn, size: report.size, hnsw: report.hnsw,
        graph: report.size > 0 ? `${generation}.hnsw` : null, state: `${generation}.state.json`,
      });
      metrics.snapshots.inc({ result: 'written' });
      metrics.snapshotDuration.observe((performance.now() - started) / 1000);
    } catch (e) {
      await storage.snapshots.discard(files).catch(() => undefined);
      metrics.snapshots.inc({ result: 'failed' });
      log.warn('snapshot failed; the previous one stays current and the log is kept', { space, error: e instanceof Error ? e.message : String(e) });
    }
  }

  private async truncateLog(boundary: number): Promise<void> {
    const { storage, pool, metrics } = this.options;
    const wal = storage.wal;
    if (!wal) return;
    let keepFrom = Math.min(boundary, wal.oldestUncommittedLsn ?? wal.nextLsn);
    for (const [space, indexedLsn] of pool.indexLsns()) {
      const snapshotLsn = storage.snapshots.get(space)?.lsn ?? 0;
      if (indexedLsn > snapshotLsn || pool.hasUnindexedWork(space)) keepFrom = Math.min(keepFrom, snapshotLsn + 1);
    }
    // A replaced layout whose replacement is not yet durable: a restart would load it, and replay from its snapshots.
    for (const index of pool.retainedIndexes()) keepFrom = Math.min(keepFrom, (storage.snapshots.get(index)?.lsn ?? 0) + 1);
    metrics.walTruncatedSegments.inc(await wal.truncateBefore(keepFrom));
  }
}
