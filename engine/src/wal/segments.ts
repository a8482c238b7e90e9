// The log's files: `<dir>/<first LSN, 16 digits>.wal`, in LSN order. A segment holds the records
// from its first LSN up to the next segment's first LSN; only the newest one is ever appended to.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

const SEGMENT = /^(\d{16})\.wal$/;

export interface Segment {
  path: string;
  firstLsn: number;
}

export function segmentName(firstLsn: number): string {
  return `${String(firstLsn).padStart(16, '0')}.wal`;
}

export async function listSegments(dir: string): Promise<Segment[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return names
    .map((name) => ({ name, match: SEGMENT.exec(name) }))
    .filter((s): s is { name: string; match: RegExpExecArray } => s.match !== null)
    .map(({ name, match }) => ({ path: join(dir, name), firstLsn: Number(match[1]) }))
    .sort((a, b) => a.firstLsn - b.firstLsn);
}
