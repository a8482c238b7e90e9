// Reads the write-ahead log back in LSN order. A segment ends at its last whole, checksummed
// record: anything after it (a torn write from a crash, or corruption) is reported, never
// returned, and reading goes on with the next segment (whose records were written, and synced,
// after the damaged one was abandoned).
import { readFile } from 'node:fs/promises';
import { listSegments, type Segment } from './segments.js';
import { decodeFrame, type WalObservation } from './wal-record.js';

export interface DamagedTail {
  segment: string;
  /** Bytes of good records before the damage: where the segment should be cut. */
  goodBytes: number;
  /** Bytes after the last good record. */
  lostBytes: number;
  reason: string;
  /** LSN of the last good record before the damage (0 if none in the log). */
  lastGoodLsn: number;
}

export interface ReadOptions {
  /** Only records with an LSN above this. */
  afterLsn?: number;
  /** Stop at the first record above this. */
  throughLsn?: number;
  onDamage?(tail: DamagedTail): void;
}

export async function* readLog(dir: string, options: ReadOptions = {}): AsyncGenerator<WalObservation> {
  const after = options.afterLsn ?? 0;
  const through = options.throughLsn ?? Number.MAX_SAFE_INTEGER;
  const segments = await listSegments(dir);
  let lastGoodLsn = 0;
  for (const [i, segment] of segments.entries()) {
    const next = segments[i + 1];
    // A segment whose successor starts at or before `after` holds nothing we want.
    if (next && next.firstLsn <= after + 1) continue;
    if (segment.firstLsn > through) return;
    const buf = await readSegment(segment);
    if (!buf) continue;
    let offset = 0;
    while (offset < buf.length) {
      const frame = decodeFrame(buf, offset);
      if (frame.kind !== 'record') {
        options.onDamage?.({
          segment: segment.path, goodBytes: offset, lostBytes: buf.length - offset, lastGoodLsn,
          reason: frame.kind === 'incomplete' ? 'torn record (the file ends mid-record)' : frame.reason,
        });
        break;
      }
      offset += frame.bytes;
      lastGoodLsn = frame.record.lsn;
      if (frame.record.lsn > through) return;
      if (frame.record.lsn > after) yield frame.record;
    }
  }
}

async function readSegment(segment: Segment): Promise<Buffer | null> {
  try {
    return await readFile(segment.path);
  } catch (e) {
    // Truncated away behind a snapshot while we were reading: nothing in it is needed.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}
