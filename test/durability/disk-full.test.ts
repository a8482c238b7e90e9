// The data directory's file system fills up under a stream (a real 24 MiB tmpfs, when this test may
// mount one): new observations are REJECTED with a reason naming the cause, the engine reports
// not ready, and once space returns it resumes by itself; nothing acknowledged is lost, before or
// after a restart.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEngine } from '../helpers/engine-process.js';
import { expectStored, readyStatus, waitFor } from '../helpers/durability.js';
import { clusteredObservations, metricValue } from '../helpers/vectors.js';

const DIM = 256;
const COUNT = 6000;
const mountPoint = mkdtempSync(join(tmpdir(), 'engram-full-'));

function mountTmpfs(): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mountPoint], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const mounted = mountTmpfs();
if (!mounted) console.warn('disk-full test skipped: this user cannot mount a tmpfs');

describe.skipIf(!mounted)('data directory full', () => {
  afterAll(() => {
    execFileSync('umount', ['-l', mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  });

  it('rejects with the cause, goes unready, resumes when space returns, and loses nothing', async () => {
    const dataDir = join(mountPoint, 'data');
    mkdirSync(dataDir);
    const config = { 'hnsw.dimension': DIM, workers: 2 };
    const engine = await startEngine(config, ['--data-dir', dataDir]);
    const filler = join(mountPoint, 'filler');
    const { bavail, bsize } = statfsSync(mountPoint);
    writeFileSync(filler, Buffer.alloc(Number(bavail) * Number(bsize) - 3 * 1024 * 1024));

    const data = clusteredObservations('full', COUNT, DIM, 5);
    const client = engine.client();
    const stream = await client.openStream({ memorySpace: 'full', maxBatch: 100 });
    const storageRefusals: string[] = [];
    stream.on('refused', (ack) => {
      if (ack.code === 'REJECT_STORAGE_UNAVAILABLE') storageRefusals.push(ack.reason);
    });
    const sending = (async () => {
      for (const o of data) await stream.send(o);
      return stream.close({ drain: true });
    })();

    await waitFor(async () => storageRefusals.length > 0, 30_000, 'a storage refusal');
    expect(storageRefusals[0]).toMatch(/data directory .* cannot be written: no space left on the device \(ENOSPC\)/);
    expect(await readyStatus(engine.httpUrl)).toBe(503);
    await waitFor(async () => metricValue(await engine.metrics(), 'engram_wal_writable') === 0, 5_000, 'engram_wal_writable 0');
    expect(metricValue(await engine.metrics(), 'engram_wal_failures_total', { code: 'ENOSPC' })).toBe(1);

    rmSync(filler);
    const counts = await sending;
    expect(counts).toMatchObject({ accepted: COUNT, indexed: COUNT, rejected: 0 });
    expect(await readyStatus(engine.httpUrl)).toBe(200);
    await expectStored(client, 'full', data);

    await engine.stop('SIGKILL');
    const again = await startEngine(config, ['--data-dir', dataDir]);
    try {
      expect((await again.client().stats()).spaces[0]?.vectors).toBe(COUNT);
      await expectStored(again.client(), 'full', data);
    } finally {
      await again.stop();
    }
  }, 120_000);
});
