// Checkpoints in the background: every `snapshotIntervalMs`, or once `snapshotLogBytes` of log
// were written since the last one, each memory space with records indexed since its snapshot is
// snapshotted by its worker, then the log segments every snapshot covers are deleted. A segment is
// kept while any space may still need one of its records: a space whose index, queue or in-flight
// work holds records past its snapshot needs everything after that snapshot.
import { performance } from 'node:perf_hooks';
import type { DurabilityConfig } from '../config/engine-config.js';
import type { Logger } from '../log.js';
import type { EngineMetrics } from '../metrics/engine-metrics.js';
import type { WorkerPool } from '../pool/worker-pool.js';
import type { DurableStorage } from './durable-storage.js';

const CHECK_EVERY_MS = 500;

export interface CheckpointerOptions {
  storage: DurableStorage;
  pool: WorkerPool;
  log: Logger;
  metrics: EngineMetrics;
  settings(): DurabilityConfig;
}

export class Checkpointer {
  private running: Promise<void> | null = null;
  private lastAt = performance.now();
  private logMark = 0;
  private timer: NodeJS.Timeout | null = null;

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
    if (performance.now() - this.lastAt >= snapshotIntervalMs || logBytes - this.logMark >= snapshotLogBytes) void this.checkpoint();
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
    for (const [space, indexedLsn] of this.options.pool.spaceLsns()) {
      const current = this.options.storage.snapshots.get(space);
      if (current && current.lsn >= indexedLsn) continue;
      await this.snapshotSpace(space);
    }
    await this.truncateLog(boundary);
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
    for (const [space, indexedLsn] of pool.spaceLsns()) {
      const snapshotLsn = storage.snapshots.get(space)?.lsn ?? 0;
      if (indexedLsn > snapshotLsn || pool.hasUnindexedWork(space)) keepFrom = Math.min(keepFrom, snapshotLsn + 1);
    }
    metrics.walTruncatedSegments.inc(await wal.truncateBefore(keepFrom));
  }
}
