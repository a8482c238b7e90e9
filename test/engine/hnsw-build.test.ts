// The engine runs hnswlib built for x86-64-v3 (AVX2, FMA) when the CPU has those instructions, and
// npm's portable build otherwise or when told: either build indexes and recalls the same
// observations. On an x86-64 machine with AVX2 and FMA, a missing v3 build (its compile failed at
// install) fails here.
import { afterEach, describe, expect, it } from 'vitest';
import { startEngine, type EngineProcess } from '../helpers/engine-process.js';
import { clusteredObservations, metricValue } from '../helpers/vectors.js';
import { machineRunsV3 } from '../helpers/cpu.js';

const DIM = 64;
async function withBuild<T>(build: string | undefined, run: () => Promise<T>): Promise<T> {
  const before = process.env.ENGRAM_HNSW_BUILD;
  if (build === undefined) delete process.env.ENGRAM_HNSW_BUILD;
  else process.env.ENGRAM_HNSW_BUILD = build;
  try {
    return await run();
  } finally {
    if (before === undefined) delete process.env.ENGRAM_HNSW_BUILD;
    else process.env.ENGRAM_HNSW_BUILD = before;
  }
}

/** Streams 300 observations and recalls each of 30 as its own nearest neighbour. */
async function indexesAndRecalls(engine: EngineProcess): Promise<void> {
  const client = engine.client();
  const data = clusteredObservations('builds', 300, DIM);
  const stream = await client.openStream({ memorySpace: 'builds' });
  for (const o of data) await stream.send(o);
  expect(await stream.close({ drain: true })).toMatchObject({ accepted: 300, indexed: 300 });
  for (const o of data.slice(0, 30)) {
    const { hits } = await client.recall({ memorySpace: 'builds', vector: o.embedding, k: 1 });
    expect(hits[0]?.id).toBe(o.id);
  }
}

describe('the hnswlib build an engine runs', () => {
  let engine: EngineProcess | null = null;
  afterEach(async () => {
    await engine?.stop();
    engine = null;
  });

  it.each([
    { chosen: 'by the CPU', env: undefined, expected: machineRunsV3() ? 'x86-64-v3' : 'portable' },
    { chosen: 'portable, by ENGRAM_HNSW_BUILD', env: 'portable', expected: 'portable' },
  ])('$chosen: says which in its start-up log and metric, and indexes and recalls with it', async ({ env, expected }) => {
    engine = await withBuild(env, () => startEngine({ 'hnsw.dimension': DIM }));
    const listening = engine.logEntries().find((e) => e.message === 'engine listening');
    expect(String(listening?.hnswBuild)).toMatch(new RegExp(`^${expected} \\(`));
    const metrics = await engine.metrics();
    expect(metricValue(metrics, 'engram_hnsw_build_info', { build: expected })).toBe(1);
    await indexesAndRecalls(engine);
  });

  it('refuses to start with a build it cannot run, saying why', async () => {
    await expect(withBuild('avx512', () => startEngine({ 'hnsw.dimension': DIM }))).rejects.toThrow("ENGRAM_HNSW_BUILD must be 'portable' or 'x86-64-v3', got 'avx512'");
  });
});
