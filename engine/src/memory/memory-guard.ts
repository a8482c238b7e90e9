// Keeps the engine inside its memory limit by refusing new observations before the kernel's OOM
// killer ends the process: an engine killed for memory comes back, replays its log, regrows its
// indexes and is killed again. The limit is the config's `memory.limitBytes`, or else the memory
// limit of the engine's cgroup (a container's or a pod's, v1 or v2), read again every check so a
// raised limit is seen without a restart. What counts is the memory in use now plus what the queue
// holds, which becomes index memory once indexed. In use is the larger of the resident set and
// what the cgroup is charged: the charge also holds page cache, which the kernel here (cgroup v1)
// did not reclaim before killing the engine (25-29 MiB of clean file cache at the kill, twice).
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';

/** A cgroup v1 "unlimited" is a huge page-aligned number; anything above this means no limit. */
const NO_LIMIT = 2 ** 60;

/** The files of this process's memory cgroup (v2, then v1) that say its limit and its charge. */
function cgroupFiles(procCgroup: string, root: string): Array<{ limit: string; usage: string }> {
  let lines: string[];
  try {
    lines = readFileSync(procCgroup, 'utf8').split('\n');
  } catch {
    return [];
  }
  const files: Array<{ limit: string; usage: string }> = [];
  for (const line of lines) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!match) continue;
    const [, controllers, path] = match as unknown as [string, string, string];
    const sub = path === '/' ? '' : path;
    if (controllers === '') files.push({ limit: `${root}${sub}/memory.max`, usage: `${root}${sub}/memory.current` });
    else if (controllers.split(',').includes('memory')) {
      files.push({ limit: `${root}/memory${sub}/memory.limit_in_bytes`, usage: `${root}/memory${sub}/memory.usage_in_bytes` });
    }
  }
  return files;
}

/** A cgroup file's number, 'max' as Infinity, or null when it cannot be read. */
function readBytes(file: string): number | null {
  try {
    const raw = readFileSync(file, 'utf8').trim();
    if (raw === 'max') return Number.POSITIVE_INFINITY;
    const bytes = Number(raw);
    return Number.isFinite(bytes) && bytes >= 0 ? bytes : null;
  } catch {
    return null; // not this hierarchy
  }
}

/**
 * This process's memory cgroup (v2, then v1): its limit and what it is charged now (anonymous
 * memory, page cache, kernel memory), or null when it has no limit (the machine's root cgroup, say,
 * whose charge is the whole machine's).
 */
export function cgroupMemory(procCgroup = '/proc/self/cgroup', root = '/sys/fs/cgroup'): { limitBytes: number; chargedBytes: number | null } | null {
  for (const { limit, usage } of cgroupFiles(procCgroup, root)) {
    const bytes = readBytes(limit);
    if (bytes === null || bytes === 0) continue;
    if (bytes >= NO_LIMIT) return null;
    return { limitBytes: bytes, chargedBytes: readBytes(usage) };
  }
  return null;
}

/** The memory limit of this process's cgroup, or null when there is none. */
export function cgroupMemoryLimit(procCgroup = '/proc/self/cgroup', root = '/sys/fs/cgroup'): number | null {
  return cgroupMemory(procCgroup, root)?.limitBytes ?? null;
}

export interface MemorySettings {
  /** Bytes the engine may use; 0 = its cgroup's limit, if any. */
  limitBytes: number;
  /** New observations are refused once resident + queued memory passes this share of the limit. */
  highWatermark: number;
}

export interface MemoryReading {
  limitBytes: number | null;
  /** The resident set or the cgroup's charge, whichever is larger. */
  inUseBytes: number;
  projectedBytes: number;
  /** Why new observations are refused now, or null. */
  refusal: string | null;
}

const MiB = 1024 * 1024;

export interface MemoryGuardOptions {
  settings: () => MemorySettings;
  queuedBytes: () => number;
  readLimit?: () => number | null;
  readResident?: () => number;
  /** What the engine's cgroup is charged (null: no cgroup with a limit). */
  readCharge?: () => number | null;
  /**
   * Hands free heap pages back to the kernel (memory-release.ts), or null where that is not built.
   * Called before a refusal, so a refusal counts memory in use, not pages glibc keeps free.
   */
  trimHeap?: (() => unknown) | null;
  /**
   * A full garbage collection of the main thread, run before the heap trim: buffers gRPC received
   * (refused batches come back every second while memory is short) stay resident until V8 collects
   * them, 4-22 MiB of external memory between collections under the stress suite's limit.
   */
  collectGarbage?: (() => unknown) | null;
  now?: () => number;
}

/** At most one trim (and collection) a second: it walks every malloc arena. */
const TRIM_INTERVAL_MS = 1000;
/**
 * Once refusing, the guard takes observations again only this share of the limit under the
 * watermark: after resuming at the watermark itself, an engine went from 238 to 289 MiB resident
 * within two seconds, and the kernel killed it at its 275 MiB limit.
 */
const RESUME_MARGIN = 0.05;

export class MemoryGuard {
  private reading: MemoryReading = { limitBytes: null, inUseBytes: 0, projectedBytes: 0, refusal: null };
  private readonly readLimit: () => number | null;
  private readonly readResident: () => number;
  private readonly readCharge: () => number | null;
  private readonly now: () => number;
  private lastTrimAt = Number.NEGATIVE_INFINITY;
  /** Resident bytes the heap trims gave back, in all. */
  returnedBytes = 0;

  constructor(private readonly options: MemoryGuardOptions) {
    this.readLimit = options.readLimit ?? (() => cgroupMemoryLimit());
    this.readResident = options.readResident ?? (() => process.memoryUsage.rss());
    this.readCharge = options.readCharge ?? (() => cgroupMemory()?.chargedBytes ?? null);
    this.now = options.now ?? (() => performance.now());
  }

  get current(): MemoryReading {
    return this.reading;
  }

  /** Bytes left under the high watermark at the last check (null: no limit); negative when over. */
  headroom(): number | null {
    const { limitBytes } = this.reading;
    return limitBytes === null ? null : this.options.settings().highWatermark * limitBytes - this.reading.projectedBytes;
  }

  /**
   * Reads the limit and the memory in use again (every 200 ms). Over the watermark, it first
   * returns the heap's free pages to the kernel and reads again.
   */
  check(): MemoryReading {
    const { limitBytes, highWatermark } = this.options.settings();
    const limit = limitBytes > 0 ? limitBytes : this.readLimit();
    const refusing = this.reading.refusal !== null;
    const ceiling = limit === null ? Number.POSITIVE_INFINITY : (highWatermark - (refusing ? RESUME_MARGIN : 0)) * limit;
    let inUseBytes = this.inUse();
    if (inUseBytes + this.options.queuedBytes() > ceiling) inUseBytes = this.trimmed(inUseBytes);
    const projectedBytes = inUseBytes + this.options.queuedBytes();
    const over = limit !== null && projectedBytes > ceiling;
    this.reading = {
      limitBytes: limit, inUseBytes, projectedBytes,
      refusal: over
        ? `engine memory ${(inUseBytes / MiB).toFixed(0)} MiB in use + ${((projectedBytes - inUseBytes) / MiB).toFixed(0)} MiB queued is over ${Math.round((ceiling / limit) * 100)}% of its ${(limit / MiB).toFixed(0)} MiB limit; resend later, or raise the limit or spread the memory spaces over more engines`
        : null,
    };
    return this.reading;
  }

  /** The resident set or the cgroup's charge, whichever is larger. */
  private inUse(): number {
    return Math.max(this.readResident(), this.readCharge() ?? 0);
  }

  /** Memory in use after a collection and a heap trim, when one is built and none ran in the last second. */
  private trimmed(inUseBytes: number): number {
    const { trimHeap } = this.options;
    if (!trimHeap || this.now() - this.lastTrimAt < TRIM_INTERVAL_MS) return inUseBytes;
    this.lastTrimAt = this.now();
    this.options.collectGarbage?.();
    const before = this.readResident();
    trimHeap();
    this.returnedBytes += Math.max(0, before - this.readResident());
    return this.inUse();
  }
}
