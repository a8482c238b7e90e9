// A damaged log tail: a torn record after the last whole one (a crash mid-write), or a corrupt
// last record. Recovery stops at the last good record, says so in a log line and a metric, cuts
// the damage off, and recovers everything before it. Each case starts from its own data directory
// whose log holds every observation and no snapshot (recovery snapshots what it replays, so a
// directory recovered once has nothing left in its log to damage).
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEngine } from '../helpers/engine-process.js';
import { expectStored } from '../helpers/durability.js';
import { clusteredObservations, metricValue } from '../helpers/vectors.js';

const DIM = 32;
const COUNT = 2000;
const config = { 'hnsw.dimension': DIM, workers: 2 };

describe('damaged log tail', () => {
  const root = mkdtempSync(join(tmpdir(), 'engram-damage-'));
  const data = clusteredObservations('damage', COUNT, DIM, 3);
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  /** The newest segment holding records (a restart opens a new, empty one). */
  const lastSegment = (dir: string): string => {
    const walDir = join(dir, 'wal');
    return readdirSync(walDir).sort().map((f) => join(walDir, f)).filter((f) => statSync(f).size > 0).at(-1)!;
  };

  /** A data directory whose log holds every observation and which has no snapshot: its engine was killed. */
  async function loggedWithoutSnapshot(name: string): Promise<string> {
    const dir = join(root, name);
    mkdirSync(dir);
    const engine = await startEngine(config, ['--data-dir', dir]);
    const stream = await engine.client().openStream({ memorySpace: 'damage', maxBatch: 100 });
    for (const o of data) await stream.send(o);
    expect(await stream.close({ drain: true })).toMatchObject({ accepted: COUNT });
    await engine.stop('SIGKILL');
    return dir;
  }

  it('recovers every record before a torn tail and reports the tail', async () => {
    // The start of a record that claims 10,000 bytes, as a crash mid-write leaves it.
    const dir = await loggedWithoutSnapshot('torn');
    const torn = Buffer.alloc(40);
    torn.writeUInt32LE(10_000, 0);
    appendFileSync(lastSegment(dir), torn);
    const engine = await startEngine(config, ['--data-dir', dir]);
    try {
      const damage = engine.logEntries().find((e) => String(e.message).startsWith('write-ahead log tail damaged'));
      expect(damage).toMatchObject({ lastGoodLsn: COUNT, droppedBytes: 40, reason: expect.stringContaining('torn') });
      const metrics = await engine.metrics();
      expect(metricValue(metrics, 'engram_wal_damaged_tails_total')).toBe(1);
      expect(metricValue(metrics, 'engram_wal_damaged_bytes_total')).toBe(40);
      expect((await engine.client().stats()).spaces[0]?.vectors).toBe(COUNT);
      await expectStored(engine.client(), 'damage', data);
    } finally {
      await engine.stop('SIGKILL');
    }
  }, 60_000);

  it('stops at the record before a corrupt one, and the cut is permanent', async () => {
    const dir = await loggedWithoutSnapshot('corrupt');
    const segment = lastSegment(dir);
    const bytes = readFileSync(segment);
    bytes[bytes.length - 3]! ^= 0xff; // inside the last record's vector
    writeFileSync(segment, bytes);
    const engine = await startEngine(config, ['--data-dir', dir]);
    try {
      const damage = engine.logEntries().find((e) => String(e.message).startsWith('write-ahead log tail damaged'));
      expect(damage).toMatchObject({ lastGoodLsn: COUNT - 1, reason: 'checksum mismatch' });
      expect((await engine.client().stats()).spaces[0]?.vectors).toBe(COUNT - 1);
      await expectStored(engine.client(), 'damage', data, [data.at(-1)!.id]);
    } finally {
      await engine.stop('SIGKILL');
    }
    const again = await startEngine(config, ['--data-dir', dir]);
    try {
      expect(again.logEntries().some((e) => String(e.message).startsWith('write-ahead log tail damaged'))).toBe(false);
      expect((await again.client().stats()).spaces[0]?.vectors).toBe(COUNT - 1);
    } finally {
      await again.stop();
    }
  }, 60_000);
});
