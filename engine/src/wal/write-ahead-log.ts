// The write-ahead log: every accepted observation is appended here before it is acknowledged.
// Appends are group-committed: while one write (and, under the `batch` policy, its fdatasync) is
// on disk, later appends gather into the next group, so one sync covers every session's batches
// that arrived meanwhile. Sync policies:
//   batch    - a group is synced before its appends resolve (nothing acked is lost, even on power loss)
//   interval - appends resolve once written; the file is synced every `syncIntervalMs`
//              (a process crash loses nothing; power loss or a kernel crash can lose that interval)
//   none     - appends resolve once written; the kernel flushes when it likes (same as interval,
//              with an unbounded window)
// A write that fails (disk full, read-only or unwritable directory) fails its group and every later
// one, cuts the segment back to its last whole record, and puts the log into a failed state that a
// probe clears by itself once the directory can be written again; appends then go to a new segment.
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { SyncPolicy } from '../config/engine-config.js';
import { EngramError } from '../errors.js';
import type { Logger } from '../log.js';
import { syncDirectory, writeFileDurably } from './durable-files.js';
import { dropFilePages } from '../memory/memory-release.js';
import { listSegments, segmentName } from './segments.js';
import { RecordArena } from './record-arena.js';
import type { WalObservation } from './wal-record.js';


export interface WalMetrics {
  written(bytes: number): void;
  synced(seconds: number): void;
  failed(code: string): void;
}

export interface WalOptions {
  dir: string;
  syncPolicy: SyncPolicy;
  syncIntervalMs: number;
  segmentBytes: number;
  /** The LSN the first new record gets (one past the highest LSN already stored). */
  nextLsn: number;
  log: Logger;
  metrics: WalMetrics;
  /** How often a failed log tries the directory again. */
  probeIntervalMs?: number;
}

interface Group {
  buffers: Buffer[];
  bytes: number;
  records: number;
  firstLsn: number;
  waiters: Array<{ resolve(): void; reject(e: Error): void }>;
}

const PROBE_BYTES = 1024 * 1024;

function emptyGroup(): Group {
  return { buffers: [], bytes: 0, records: 0, firstLsn: 0, waiters: [] };
}

/** An errno error as a sentence that names the directory and the cause. */
export function describeStorageError(dir: string, e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const causes: Record<string, string> = {
    ENOSPC: 'no space left on the device', EDQUOT: 'disk quota exceeded', EROFS: 'the file system is read-only',
    EACCES: 'permission denied', EPERM: 'operation not permitted', EIO: 'I/O error', ENOENT: 'the directory does not exist',
  };
  const cause = (err.code && causes[err.code]) ?? err.message ?? String(e);
  return `data directory ${dir} cannot be written: ${cause}${err.code ? ` (${err.code})` : ''}`;
}

export class WriteAheadLog {
  private fh: FileHandle | null = null;
  private size = 0;
  /** Where the open segment's pages not yet dropped from the page cache begin (a page boundary). */
  private droppedThrough = 0;
  private next: number;
  private pending = emptyGroup();
  private readonly arena = new RecordArena();
  private writing: Group | null = null;
  private flushing = false;
  private dirty = false;
  private failure: EngramError | null = null;
  private syncTimer: NodeJS.Timeout | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Bytes appended since start (drives the checkpointer). */
  bytesWritten = 0;

  private constructor(private readonly options: WalOptions) {
    this.next = options.nextLsn;
  }

  /** Opens a new segment at `nextLsn`; an unwritable directory leaves the log failed (and probing). */
  static async open(options: WalOptions): Promise<WriteAheadLog> {
    const wal = new WriteAheadLog(options);
    try {
      await mkdir(options.dir, { recursive: true });
      await wal.openSegment();
    } catch (e) {
      wal.enterFailure(e);
    }
    wal.setSyncPolicy(options.syncPolicy, options.syncIntervalMs);
    return wal;
  }

  get dir(): string {
    return this.options.dir;
  }

  /** The LSN the next record will get. */
  get nextLsn(): number {
    return this.next;
  }

  /** Why appends are refused now, or null when the log is writable. */
  get unavailable(): EngramError | null {
    return this.failure;
  }

  /** The lowest LSN appended but not yet committed (null when nothing is in progress). */
  get oldestUncommittedLsn(): number | null {
    if (this.writing) return this.writing.firstLsn;
    return this.pending.records > 0 ? this.pending.firstLsn : null;
  }

  setSegmentBytes(bytes: number): void {
    this.options.segmentBytes = bytes;
  }

  setSyncPolicy(policy: SyncPolicy, intervalMs: number): void {
    this.options.syncPolicy = policy;
    this.options.syncIntervalMs = intervalMs;
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.syncTimer = null;
    if (policy === 'interval') {
      this.syncTimer = setInterval(() => void this.syncNow(), intervalMs);
      this.syncTimer.unref();
    }
  }

  /**
   * Appends records (LSNs assigned now, in call order) and returns them with a promise that
   * resolves once they are committed under the sync policy, or rejects with STORAGE_UNAVAILABLE.
   */
  append(entries: ReadonlyArray<Omit<WalObservation, 'lsn'>>): { lsns: number[]; committed: Promise<void> } {
    if (this.failure) return { lsns: [], committed: Promise.reject(this.failure) };
    if (this.closed) return { lsns: [], committed: Promise.reject(new EngramError('SHUTTING_DOWN', 'the write-ahead log is closed')) };
    const group = this.pending;
    if (group.records === 0) group.firstLsn = this.next;
    const lsns = entries.map((entry) => {
      const lsn = this.next++;
      group.bytes += this.arena.add(entry, lsn, group.buffers);
      group.records++;
      return lsn;
    });
    const committed = new Promise<void>((resolve, reject) => group.waiters.push({ resolve, reject }));
    void this.flush();
    return { lsns, committed };
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.pending.records > 0 && !this.failure) {
        const group = this.pending;
        this.arena.seal(group.buffers);
        this.pending = emptyGroup();
        this.writing = group;
        await this.commit(group);
        this.writing = null;
      }
    } finally {
      this.flushing = false;
    }
  }

  private async commit(group: Group): Promise<void> {
    const fh = this.fh;
    try {
      if (!fh) throw this.failure ?? new Error('no open segment');
      await writeAll(fh, group.buffers, this.size);
      if (this.options.syncPolicy === 'batch') await this.timedSync(fh);
      else this.dirty = true;
      this.size += group.bytes;
      if (this.options.syncPolicy === 'batch') this.dropSynced(fh, this.size);
      this.bytesWritten += group.bytes;
      this.options.metrics.written(group.bytes);
      for (const w of group.waiters) w.resolve();
      if (this.size >= this.options.segmentBytes) await this.rotate();
    } catch (e) {
      this.enterFailure(e, group);
    }
  }

  private async timedSync(fh: FileHandle): Promise<void> {
    const started = process.hrtime.bigint();
    await fh.datasync();
    this.options.metrics.synced(Number(process.hrtime.bigint() - started) / 1e9);
  }

  private async syncNow(): Promise<void> {
    const fh = this.fh;
    if (!this.dirty || !fh) return;
    this.dirty = false;
    const through = this.size;
    try {
      await this.timedSync(fh);
      if (fh === this.fh) this.dropSynced(fh, through);
    } catch (e) {
      // A rotation closed this segment meanwhile (after syncing it): not a storage failure.
      if (fh === this.fh) this.enterFailure(e);
    }
  }

  /**
   * Synced log bytes leave the page cache: they are read again only at recovery, and in a
   * container they would count against its memory limit (see memory/memory-release.ts).
   */
  private dropSynced(fh: FileHandle, through: number): void {
    if (through <= this.droppedThrough) return;
    dropFilePages(fh.fd, this.droppedThrough, through);
    // The kernel drops whole pages only: the last, partly written one is dropped next time.
    this.droppedThrough = through - (through % PAGE_BYTES);
  }

  /**
   * Opens a segment named by the lowest LSN it will hold: the group already waiting (its LSNs
   * were assigned while the previous segment was written), else the next LSN. Names must never
   * exceed their records' LSNs, or truncation would judge a segment by the wrong bound.
   */
  private async openSegment(): Promise<void> {
    const first = this.pending.records > 0 ? this.pending.firstLsn : this.next;
    const path = join(this.options.dir, segmentName(first));
    // A segment of that name can only be one a failure left without a single whole record (every
    // LSN it could hold is still unassigned): start it afresh.
    const fh = await open(path, 'wx').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'EEXIST') return open(path, 'w');
      throw e;
    });
    await syncDirectory(this.options.dir);
    this.fh = fh;
    this.size = 0;
    this.droppedThrough = 0;
  }

  private async rotate(): Promise<void> {
    const old = this.fh;
    if (old) {
      if (this.options.syncPolicy !== 'none') {
        await old.datasync();
        this.dropSynced(old, this.size);
      }
      await old.close();
    }
    this.fh = null;
    this.dirty = false;
    await this.openSegment();
  }

  /** Fails `group` and everything pending, cuts the segment back, and starts probing. */
  private enterFailure(e: unknown, group?: Group): void {
    if (!this.failure) {
      this.failure = new EngramError('STORAGE_UNAVAILABLE', describeStorageError(this.options.dir, e), { cause: e });
      this.options.metrics.failed((e as NodeJS.ErrnoException).code ?? 'unknown');
      this.options.log.error('write-ahead log failed; observations are refused until the data directory can be written', { error: this.failure.message });
      const fh = this.fh;
      this.fh = null;
      // Cut any partial group off (shrinking needs no space), so the segment ends on a whole record.
      if (fh) void fh.truncate(this.size).catch(() => undefined).finally(() => void fh.close().catch(() => undefined));
      this.startProbing();
    }
    const failure = this.failure;
    for (const g of [group, this.pending]) for (const w of g?.waiters ?? []) w.reject(failure);
    this.pending = emptyGroup();
    this.arena.discard();
  }

  private startProbing(): void {
    if (this.probeTimer || this.closed) return;
    this.probeTimer = setInterval(() => void this.probe(), this.options.probeIntervalMs ?? 1000);
    this.probeTimer.unref();
  }

  /** Writes and syncs a scratch file; when that works, appends resume in a new segment. */
  private async probe(): Promise<void> {
    const path = join(this.options.dir, '.probe');
    try {
      await mkdir(this.options.dir, { recursive: true });
      await writeFileDurably(path, Buffer.alloc(PROBE_BYTES));
      await rm(path, { force: true });
      await this.openSegment();
    } catch {
      await rm(path, { force: true }).catch(() => undefined);
      return;
    }
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = null;
    this.options.log.info('write-ahead log writable again; accepting observations', { dir: this.options.dir, nextLsn: this.next });
    this.failure = null;
  }

  /** Deletes whole segments whose every record is below `lsn` (never the one being appended to). */
  async truncateBefore(lsn: number): Promise<number> {
    const segments = await listSegments(this.options.dir);
    let removed = 0;
    for (let i = 0; i + 1 < segments.length; i++) {
      const next = segments[i + 1]!;
      if (next.firstLsn > lsn) break;
      await rm(segments[i]!.path, { force: true });
      removed++;
    }
    return removed;
  }

  /** Commits what is pending, syncs and closes. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    if (this.syncTimer) clearInterval(this.syncTimer);
    if (this.probeTimer) clearInterval(this.probeTimer);
    const fh = this.fh;
    this.fh = null;
    if (fh) {
      await fh.datasync().catch(() => undefined);
      await fh.close();
    }
  }
}

/** Page size on x86-64 and most arm64 kernels (on larger pages, dropping from a 4 KiB boundary still works). */
const PAGE_BYTES = 4096;

/** Buffers passed to one writev (the kernel's IOV_MAX is 1024). */
const WRITEV_BUFFERS = 1024;

/** Writes `buffers` at `position` without copying them together; a short write is finished. */
async function writeAll(fh: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  for (let i = 0; i < buffers.length; i += WRITEV_BUFFERS) {
    const chunk = buffers.slice(i, i + WRITEV_BUFFERS);
    const bytes = chunk.reduce((n, b) => n + b.length, 0);
    const { bytesWritten } = await fh.writev(chunk, position);
    if (bytesWritten < bytes) {
      const rest = Buffer.concat(chunk).subarray(bytesWritten);
      for (let done = 0; done < rest.length;) {
        done += (await fh.write(rest, done, rest.length - done, position + bytesWritten + done)).bytesWritten;
      }
    }
    position += bytes;
  }
}
