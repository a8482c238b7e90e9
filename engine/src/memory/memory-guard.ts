// Keeps the engine inside its memory limit by refusing new observations before the kernel's OOM
// killer ends the process: an engine killed for memory comes back, replays its log, regrows its
// indexes and is killed again. The limit is the config's `memory.limitBytes`, or else the memory
// limit of the engine's cgroup (a container's or a pod's, v1 or v2), read again every check so a
// raised limit is seen without a restart. What counts is the resident set now plus what the queue
// holds, which becomes index memory once indexed.
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';

/** A cgroup v1 "unlimited" is a huge page-aligned number; anything above this means no limit. */
const NO_LIMIT = 2 ** 60;

/** The memory limit of this process's cgroup (v2, then v1), or null when there is none. */
export function cgroupMemoryLimit(procCgroup = '/proc/self/cgroup', root = '/sys/fs/cgroup'): number | null {
  let lines: string[];
  try {
    lines = readFileSync(procCgroup, 'utf8').split('\n');
  } catch {
    return null;
  }
  const candidates: string[] = [];
  for (const line of lines) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!match) continue;
    const [, controllers, path] = match as unknown as [string, string, string];
    const sub = path === '/' ? '' : path;
    if (controllers === '') candidates.push(`${root}${sub}/memory.max`);
    else if (controllers.split(',').includes('memory')) candidates.push(`${root}/memory${sub}/memory.limit_in_bytes`);
  }
  for (const file of candidates) {
    try {
      const raw = readFileSync(file, 'utf8').trim();
      if (raw === 'max') return null;
      const bytes = Number(raw);
      if (Number.isFinite(bytes) && bytes > 0) return bytes >= NO_LIMIT ? null : bytes;
    } catch {
      // not this hierarchy
    }
  }
  return null;
}

export interface MemorySettings {
  /** Bytes the engine may use; 0 = its cgroup's limit, if any. */
  limitBytes: number;
  /** New observations are refused once resident + queued memory passes this share of the limit. */
  highWatermark: number;
}

export interface MemoryReading {
  limitBytes: number | null;
  residentBytes: number;
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
  /**
   * Hands free heap pages back to the kernel (memory-release.ts), or null where that is not built.
   * Called before a refusal, so a refusal counts memory in use, not pages glibc keeps free.
   */
  trimHeap?: (() => unknown) | null;
  now?: () => number;
}

/** At most one heap trim a second: it walks every malloc arena. */
const TRIM_INTERVAL_MS = 1000;

export class MemoryGuard {
  private reading: MemoryReading = { limitBytes: null, residentBytes: 0, projectedBytes: 0, refusal: null };
  private readonly readLimit: () => number | null;
  private readonly readResident: () => number;
  private readonly now: () => number;
  private lastTrimAt = Number.NEGATIVE_INFINITY;
  /** Resident bytes the heap trims gave back, in all. */
  returnedBytes = 0;

  constructor(private readonly options: MemoryGuardOptions) {
    this.readLimit = options.readLimit ?? (() => cgroupMemoryLimit());
    this.readResident = options.readResident ?? (() => process.memoryUsage.rss());
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
   * Reads the limit and the resident set again (called about once a second). Over the watermark,
   * it first returns the heap's free pages to the kernel and reads again.
   */
  check(): MemoryReading {
    const { limitBytes, highWatermark } = this.options.settings();
    const limit = limitBytes > 0 ? limitBytes : this.readLimit();
    const ceiling = limit === null ? Number.POSITIVE_INFINITY : highWatermark * limit;
    let residentBytes = this.readResident();
    if (residentBytes + this.options.queuedBytes() > ceiling) residentBytes = this.trimmed(residentBytes);
    const projectedBytes = residentBytes + this.options.queuedBytes();
    const over = limit !== null && projectedBytes > ceiling;
    this.reading = {
      limitBytes: limit, residentBytes, projectedBytes,
      refusal: over
        ? `engine memory ${(residentBytes / MiB).toFixed(0)} MiB resident + ${((projectedBytes - residentBytes) / MiB).toFixed(0)} MiB queued is over ${Math.round(highWatermark * 100)}% of its ${(limit / MiB).toFixed(0)} MiB limit; resend later, or raise the limit or spread the memory spaces over more engines`
        : null,
    };
    return this.reading;
  }

  /** The resident set after a heap trim, when one is built and none ran in the last second. */
  private trimmed(residentBytes: number): number {
    const { trimHeap } = this.options;
    if (!trimHeap || this.now() - this.lastTrimAt < TRIM_INTERVAL_MS) return residentBytes;
    this.lastTrimAt = this.now();
    trimHeap();
    const after = this.readResident();
    this.returnedBytes += Math.max(0, residentBytes - after);
    return after;
  }
}
