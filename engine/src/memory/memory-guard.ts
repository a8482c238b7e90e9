// Keeps the engine inside its memory limit by refusing new observations before the kernel's OOM
// killer ends the process: an engine killed for memory comes back, replays its log, regrows its
// indexes and is killed again. The limit is the config's `memory.limitBytes`, or else the memory
// limit of the engine's cgroup (a container's or a pod's, v1 or v2), read again every check so a
// raised limit is seen without a restart. What counts is the resident set now plus what the queue
// holds, which becomes index memory once indexed.
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

export class MemoryGuard {
  private reading: MemoryReading = { limitBytes: null, residentBytes: 0, projectedBytes: 0, refusal: null };

  constructor(
    private readonly settings: () => MemorySettings,
    private readonly queuedBytes: () => number,
    private readonly readLimit: () => number | null = () => cgroupMemoryLimit(),
    private readonly readResident: () => number = () => process.memoryUsage.rss(),
  ) {}

  get current(): MemoryReading {
    return this.reading;
  }

  /** Bytes left under the high watermark at the last check (null: no limit); negative when over. */
  headroom(): number | null {
    const { limitBytes } = this.reading;
    return limitBytes === null ? null : this.settings().highWatermark * limitBytes - this.reading.projectedBytes;
  }

  /** Reads the limit and the resident set again (called about once a second). */
  check(): MemoryReading {
    const { limitBytes, highWatermark } = this.settings();
    const limit = limitBytes > 0 ? limitBytes : this.readLimit();
    const residentBytes = this.readResident();
    const projectedBytes = residentBytes + this.queuedBytes();
    const over = limit !== null && projectedBytes > highWatermark * limit;
    this.reading = {
      limitBytes: limit, residentBytes, projectedBytes,
      refusal: over
        ? `engine memory ${(residentBytes / MiB).toFixed(0)} MiB resident + ${((projectedBytes - residentBytes) / MiB).toFixed(0)} MiB queued is over ${Math.round(highWatermark * 100)}% of its ${(limit / MiB).toFixed(0)} MiB limit; resend later, or raise the limit or spread the memory spaces over more engines`
        : null,
    };
    return this.reading;
  }
}
