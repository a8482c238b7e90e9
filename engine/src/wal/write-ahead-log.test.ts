import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DamagedTail } from './log-reader.js';
import { readLog } from './log-reader.js';
import { decodeFrame } from './wal-record.js';
import { WriteAheadLog } from './write-ahead-log.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const noMetrics = { written: () => undefined, synced: () => undefined, failed: () => undefined };
const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wal-test-'));
  dirs.push(dir);
  return dir;
}

function entry(i: number) {
  return { space: i % 2 ? 'odd' : 'even', id: `id-${i}`, content: `c${i}`, metadata: null, vector: new Float32Array(256).fill(i) };
}

async function openLog(dir: string, segmentBytes = 64 * 1024, nextLsn = 1) {
  return WriteAheadLog.open({ dir, syncPolicy: 'batch', syncIntervalMs: 100, segmentBytes, nextLsn, log: quiet, metrics: noMetrics });
}

async function readAll(dir: string, onDamage?: (d: DamagedTail) => void) {
  const out = [];
  for await (const r of readLog(dir, onDamage ? { onDamage } : {})) out.push(r);
  return out;
}

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('write-ahead log', () => {
  it('commits appends in LSN order across segments and reads them back', async () => {
    const dir = tempDir();
    const wal = await openLog(dir);
    const commits = [];
    for (let i = 0; i < 100; i++) {
      commits.push(wal.append([entry(i)]));
      if (i % 10 === 9) await commits.at(-1)!.committed; // groups of ten: the segment fills between groups
    }
    await Promise.all(commits.map((c) => c.committed));
    await wal.close();
    expect(commits.map((c) => c.lsns[0])).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(readdirSync(dir).filter((f) => f.endsWith('.wal')).length).toBeGreaterThan(1);
    const records = await readAll(dir);
    expect(records.map((r) => r.id)).toEqual(Array.from({ length: 100 }, (_, i) => `id-${i}`));
  });

  it('names each segment by its first record, and truncation deletes only segments wholly below the LSN', async () => {
    const dir = tempDir();
    const wal = await openLog(dir);
    for (let i = 0; i < 100; i += 10) await wal.append(Array.from({ length: 10 }, (_, j) => entry(i + j))).committed;
    for (const name of readdirSync(dir)) {
      const frame = decodeFrame(readFileSync(join(dir, name)), 0);
      expect(frame.kind === 'record' && frame.record.lsn).toBe(Number(name.slice(0, 16)));
    }
    const removed = await wal.truncateBefore(75);
    await wal.close();
    expect(removed).toBeGreaterThan(0);
    const left = (await readAll(dir)).map((r) => r.lsn);
    expect(left[0]).toBeLessThanOrEqual(75);
    expect(left.at(-1)).toBe(100);
    expect(left).toEqual(Array.from({ length: left.length }, (_, i) => left[0]! + i));
  });

  it('reads only the records after an LSN and up to another', async () => {
    const dir = tempDir();
    const wal = await openLog(dir);
    await Promise.all(Array.from({ length: 50 }, (_, i) => wal.append([entry(i)]).committed));
    await wal.close();
    const records = [];
    for await (const r of readLog(dir, { afterLsn: 10, throughLsn: 20 })) records.push(r.lsn);
    expect(records).toEqual(Array.from({ length: 10 }, (_, i) => i + 11));
  });

  it('stops a segment at a torn tail, reports it, and goes on with the next segment', async () => {
    const dir = tempDir();
    const first = await openLog(dir);
    await Promise.all(Array.from({ length: 5 }, (_, i) => first.append([entry(i)]).committed));
    await first.close();
    const [segment] = readdirSync(dir);
    appendFileSync(join(dir, segment!), Buffer.from([0x10, 0x27, 0, 0, 1, 2, 3]));
    const second = await openLog(dir, 64 * 1024, 6);
    await second.append([entry(5)]).committed;
    await second.close();
    const damage: DamagedTail[] = [];
    const records = await readAll(dir, (d) => damage.push(d));
    expect(records.map((r) => r.lsn)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(damage).toEqual([expect.objectContaining({ lastGoodLsn: 5, lostBytes: 7, reason: expect.stringContaining('torn') })]);
  });

  it('fails appends with the cause when its directory cannot be created', async () => {
    const dir = tempDir();
    appendFileSync(join(dir, 'not-a-dir'), 'x');
    const wal = await openLog(join(dir, 'not-a-dir', 'wal'));
    expect(wal.unavailable?.message).toMatch(/data directory .* cannot be written/);
    await expect(wal.append([entry(1)]).committed).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    await wal.close();
  });

  // A log segment is read again only at recovery: in a container its page cache would count
  // against the memory limit (the stress suite's memory-limited engine was killed with 47 MiB of it).
  it.runIf(process.platform === 'linux')('keeps synced segments out of the page cache; unsynced ones (sync none) stay there', async () => {
    const cached = async (policy: 'batch' | 'none') => {
      const dir = tempDir();
      const wal = await WriteAheadLog.open({ dir, syncPolicy: policy, syncIntervalMs: 100, segmentBytes: 4 * 1024 * 1024, nextLsn: 1, log: quiet, metrics: noMetrics });
      for (let round = 0; round < 20; round++) await wal.append(Array.from({ length: 50 }, (_, i) => entry(round * 50 + i))).committed;
      const segments = readdirSync(dir).filter((f) => f.endsWith('.wal')).map((f) => join(dir, f));
      const bytes = segments.reduce((n, f) => n + Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', f], { encoding: 'utf8' }).trim()), 0);
      await wal.close();
      return bytes;
    };
    // 1,000 records of about 1 KB: over a MiB written either way
    expect(await cached('none')).toBeGreaterThan(1024 * 1024);
    expect(await cached('batch')).toBe(0);
  });
});
