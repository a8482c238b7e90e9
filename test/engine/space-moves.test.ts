// Moving a memory space between workers writes its index to the scratch directory. When that fails
// (here: the directory is gone), the space stays with its worker, which keeps serving it; nothing
// is lost, and placement converges on the ring once the directory is back.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine, type EngineProcess } from '../helpers/engine-process.js';
import { clusteredObservations, metricValue } from '../helpers/vectors.js';

const DIM = 64;
const SPACES = ['mv-a', 'mv-b', 'mv-c', 'mv-d', 'mv-e', 'mv-f'];

async function stream(engine: EngineProcess, space: string, from: number, count: number) {
  const s = await engine.client().openStream({ memorySpace: space, maxBatch: 50 });
  for (const o of clusteredObservations(space, from + count, DIM).slice(from)) await s.send(o);
  return s.close({ drain: true });
}

describe('space moves when the scratch directory fails', () => {
  let engine: EngineProcess;
  const scratch = join(mkdtempSync(join(tmpdir(), 'engram-moves-')), 'scratch');

  beforeAll(async () => {
    mkdirSync(scratch);
    engine = await startEngine({ 'hnsw.dimension': DIM, stealThreshold: 0 }, ['--scratch-dir', scratch]);
    for (const space of SPACES) await stream(engine, space, 0, 200);
  });
  afterAll(async () => {
    await engine.stop();
  });

  it('keeps every space and keeps serving it when moves fail, then converges when they can succeed', async () => {
    const client = engine.client();
    const before = await client.stats();
    const offWorkerZero = before.spaces.filter((s) => s.worker !== 0).map((s) => s.memorySpace);
    expect(offWorkerZero.length).toBeGreaterThan(0);

    rmSync(scratch, { recursive: true });
    const applied = await client.applyConfig({ workers: 1 });
    expect(applied.config.workers).toBe(1);
    const stranded = await client.stats();
    expect(stranded.spaces.filter((s) => s.worker !== 0).map((s) => s.memorySpace).sort()).toEqual([...offWorkerZero].sort());
    const metrics = await engine.metrics();
    expect(metricValue(metrics, 'engram_streaming_space_move_failures_total')).toBeGreaterThanOrEqual(offWorkerZero.length);
    expect(metricValue(metrics, 'engram_streaming_workers')).toBeGreaterThan(1);
    expect(engine.logs.some((l) => l.includes('memory space move failed'))).toBe(true);

    // stranded spaces still take observations and answer recalls
    for (const space of SPACES) expect(await stream(engine, space, 200, 50)).toMatchObject({ accepted: 50, indexed: 50 });
    for (const space of SPACES) {
      const first = clusteredObservations(space, 1, DIM)[0]!;
      expect((await client.recall({ memorySpace: space, vector: first.embedding, k: 1 })).hits[0]?.id).toBe(first.id);
    }

    mkdirSync(scratch);
    const deadline = Date.now() + 15_000;
    let after = await client.stats();
    while (after.spaces.some((s) => s.worker !== 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      after = await client.stats();
    }
    expect(after.spaces.every((s) => s.worker === 0)).toBe(true);
    for (const s of after.spaces) expect(s.vectors).toBe(250);
    await new Promise((r) => setTimeout(r, 200));
    expect(metricValue(await engine.metrics(), 'engram_streaming_workers')).toBe(1);
    expect((await fetch(`${engine.httpUrl}/readyz`)).status).toBe(200);
  });
});
