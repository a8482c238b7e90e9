// The engine's data directory: `wal/` (the write-ahead log), `snapshots/` (per-space index
// snapshots) and a lock file naming the process that owns them. It is also what recovery reads a
// memory space back from.
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EngramError } from '../errors.js';
import { SnapshotStore } from '../index/snapshot-store.js';
import type { SpaceSnapshot } from '../index/index-data.js';
import type { SpaceStore } from '../pool/space-recovery.js';
import { readLog } from '../wal/log-reader.js';
import type { WalObservation } from '../wal/wal-record.js';
import type { WriteAheadLog } from '../wal/write-ahead-log.js';

export class DurableStorage implements SpaceStore {
  readonly walDir: string;
  readonly snapshots: SnapshotStore;
  /** Opened after recovery, once the next LSN is known. */
  wal: WriteAheadLog | null = null;

  constructor(readonly dataDir: string) {
    this.walDir = join(dataDir, 'wal');
    this.snapshots = new SnapshotStore(join(dataDir, 'snapshots'));
  }

  /** Creates the directory and takes its lock (refused while another live engine holds it). */
  async claim(): Promise<void> {
    await mkdir(this.dataDir, { recursive: true });
    const lock = join(this.dataDir, 'LOCK');
    const holder = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
    if (holder > 0 && holder !== process.pid && processAlive(holder)) {
      throw new EngramError('STORAGE_UNAVAILABLE', `data directory ${this.dataDir} is in use by process ${holder}`);
    }
    await writeFile(lock, `${process.pid}\n`);
  }

  snapshotOf(space: string): SpaceSnapshot | null {
    return this.snapshots.snapshotOf(space);
  }

  async *replay(space: string, afterLsn: number, throughLsn: number): AsyncGenerator<WalObservation> {
    for await (const record of readLog(this.walDir, { afterLsn, throughLsn })) if (record.space === space) yield record;
  }
}

/** Best effort: a live process with that pid (a zombie, killed but not reaped, is not alive). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}
