// A data directory written under one vector shape, started under another (a volume kept from an
// earlier EngramStream of the same name, or a config edited by hand): the engine refuses to start,
// naming what it holds and what it was given, and the data is left as it was. Snapshots and a log
// without a snapshot are both checked.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectStored } from '../helpers/durability.js';
import { startEngine } from '../helpers/engine-process.js';
import { clusteredObservations } from '../helpers/vectors.js';

const data = clusteredObservations('shaped', 300, 64, 5);

/** Streams `data` into a fresh directory at dimension 64; SIGTERM leaves a snapshot, SIGKILL only the log. */
async function written(signal: 'SIGTERM' | 'SIGKILL'): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'engram-shape-'));
  const engine = await startEngine({ 'hnsw.dimension': 64 }, ['--data-dir', dir]);
  const stream = await engine.client().openStream({ memorySpace: 'shaped', maxBatch: 100 });
  for (const o of data) await stream.send(o);
  expect(await stream.close({ drain: true })).toMatchObject({ accepted: data.length });
  await engine.stop(signal);
  return dir;
}

async function refusal(config: Record<string, unknown>, dir: string): Promise<string> {
  return startEngine(config, ['--data-dir', dir]).then(async (e) => {
    await e.stop();
    return 'started';
  }, (e: Error) => e.message);
}

describe('a data directory of another vector shape', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it.each([
    ['snapshots', 'SIGTERM' as const],
    ['a log without a snapshot', 'SIGKILL' as const],
  ])('is refused at start (%s), and serves again under its own shape', async (_what, signal) => {
    const dir = await written(signal);
    dirs.push(dir);
    const wrongDimension = await refusal({ 'hnsw.dimension': 32 }, dir);
    expect(wrongDimension).toContain('exited with 1 before listening');
    expect(wrongDimension).toContain('DATA_SHAPE_MISMATCH');
    expect(wrongDimension).toMatch(/64.*32/);
    if (signal === 'SIGTERM') {
      expect(await refusal({ 'hnsw.dimension': 64, 'hnsw.metric': 'l2' }, dir)).toContain('hnsw.metric cosine; this engine is configured for 64 and l2');
    }
    const right = await startEngine({ 'hnsw.dimension': 64 }, ['--data-dir', dir]);
    try {
      await expectStored(right.client(), 'shaped', data);
    } finally {
      await right.stop();
    }
  }, 120_000);
});
