// Recovery at start, before the engine reports ready: every memory space is loaded from its latest
// snapshot, then the log records after each space's snapshot are queued and indexed again. A torn
// or corrupt tail (a crash mid-write) ends its segment: it is reported in a log line and a metric
// and cut off, so the log ends on its last good record. Replay upserts by id, so a record replayed
// over a snapshot that already holds it changes nothing.
import { rm, stat, truncate } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { HnswConfig } from '../config/engine-config.js';
import { EngramError } from '../errors.js';
import type { Logger } from '../log.js';
import type { EngineMetrics } from '../metrics/engine-metrics.js';
import { ReplaySink, replayItem } from '../pool/space-recovery.js';
import { parseShardKey } from '../pool/shard-key.js';
import type { WorkerPool } from '../pool/worker-pool.js';
import type { IngestQueue } from '../queue/ingest-queue.js';
import type { SpaceDirectory } from '../tenancy/space-directory.js';
import { readLog, type DamagedTail } from '../wal/log-reader.js';
import { listSegments } from '../wal/segments.js';
import type { DurableStorage } from './durable-storage.js';
import { chooseLayouts } from './layout-choice.js';

export interface RecoveryContext {
  /** The vector shape the engine is configured for: the data directory must hold the same. */
  shape: Pick<HnswConfig, 'dimension' | 'metric'>;
  storage: DurableStorage;
  pool: WorkerPool;
  queue: IngestQueue;
  directory: SpaceDirectory;
  log: Logger;
  metrics: EngineMetrics;
}

export interface RecoveryReport {
  /** One past the highest LSN found: where the log continues. */
  nextLsn: number;
  spacesRestored: number;
  recordsReplayed: number;
  damaged: DamagedTail[];
  seconds: number;
}

export async function recoverAtStart(ctx: RecoveryContext): Promise<RecoveryReport> {
  const started = performance.now();
  const { storage, pool, queue, directory, metrics } = ctx;
  let maxLsn = 0;
  const manifests = await storage.snapshots.load();
  for (const m of manifests) maxLsn = Math.max(maxLsn, m.lsn);
  // A manifest is an index's: a space's, or one shard's (its key names the space and the count).
  const { keep: held, stale } = chooseLayouts(manifests.filter((m) => !m.dropped));
  for (const key of stale) await storage.snapshots.remove(key);
  if (stale.length > 0) ctx.log.warn('removed the snapshots of a replaced shard layout (a reshard was committing when the engine stopped)', { indexes: stale });
  for (const m of held) checkSnapshotShape(m.space, m.hnsw, ctx.shape, storage.dataDir);
  // Every space with a manifest keeps the shard count it was written with (a dropped one too: its
  // manifests say which of its records not to replay).
  for (const m of [...held, ...manifests.filter((d) => d.dropped)]) {
    const { space, count } = parseShardKey(m.space);
    pool.fixShards(space, count);
  }
  for (const m of held) {
    const snapshot = storage.snapshots.snapshotOf(m.space)!;
    directory.restore(parseShardKey(m.space).space).indexed += m.size;
    await pool.restore(m.space, snapshot.files, m.hnsw, m.lsn);
  }
  const damaged: DamagedTail[] = [];
  const sink = new ReplaySink();
  let replayed = 0;
  for await (const record of readLog(storage.walDir, { onDamage: (d) => damaged.push(d) })) {
    maxLsn = Math.max(maxLsn, record.lsn);
    if (record.lsn <= (storage.snapshots.get(pool.indexOf(record.space, record.id))?.lsn ?? 0)) continue;
    checkRecordShape(record.space, record.vector.length, ctx.shape, storage.dataDir);
    directory.restore(record.space).pending++;
    sink.add(1);
    queue.push(record.space, [replayItem(record, sink, performance.now())]);
    pool.queued(record.space);
    replayed++;
    if (queue.depth >= queue.observationCapacity) await until(() => queue.depth < queue.observationCapacity / 2);
  }
  sink.seal();
  metrics.walReplayed.inc(replayed);
  await sink.done;
  for (const d of damaged) await cutDamagedTail(d, ctx);
  await removeEmptySegments(storage.walDir);
  return { nextLsn: maxLsn + 1, spacesRestored: held.length, recordsReplayed: replayed, damaged, seconds: (performance.now() - started) / 1000 };
}

/**
 * A data directory written under another dimension or metric (a volume kept from an earlier stream
 * of the same name, or a config edited by hand) cannot be served: its indexes would take vectors
 * of the new shape and answer nonsense. The engine refuses to start and says which it holds.
 */
function checkSnapshotShape(space: string, stored: Pick<HnswConfig, 'dimension' | 'metric'>, shape: RecoveryContext['shape'], dataDir: string): void {
  if (stored.dimension === shape.dimension && stored.metric === shape.metric) return;
  throw new EngramError('DATA_SHAPE_MISMATCH',
    `the data directory ${dataDir} holds memory space '${space}' with hnsw.dimension ${stored.dimension} and hnsw.metric ${stored.metric}; `
    + `this engine is configured for ${shape.dimension} and ${shape.metric}: start it with the stored values, or on an empty data directory`);
}

function checkRecordShape(space: string, dimension: number, shape: RecoveryContext['shape'], dataDir: string): void {
  if (dimension === shape.dimension) return;
  throw new EngramError('DATA_SHAPE_MISMATCH',
    `the write-ahead log in ${dataDir} holds ${dimension}-dimension vectors for memory space '${space}'; this engine is configured for `
    + `hnsw.dimension ${shape.dimension}: start it with the stored value, or on an empty data directory`);
}

async function cutDamagedTail(d: DamagedTail, { log, metrics }: RecoveryContext): Promise<void> {
  log.warn('write-ahead log tail damaged: recovery stopped at the last good record of the segment and cut the rest', {
    segment: d.segment, reason: d.reason, lastGoodLsn: d.lastGoodLsn, keptBytes: d.goodBytes, droppedBytes: d.lostBytes,
  });
  metrics.walDamagedTails.inc();
  metrics.walDamagedBytes.inc(d.lostBytes);
  await truncate(d.segment, d.goodBytes);
}

/** A segment created just before a crash may hold nothing; its name would clash with the next. */
async function removeEmptySegments(dir: string): Promise<void> {
  for (const segment of await listSegments(dir)) {
    if ((await stat(segment.path)).size === 0) await rm(segment.path, { force: true });
  }
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
}
