// A recall on a space under heavy ingest, on the same (only) worker, with large batches: the worker
// serves waiting recalls between two inserts, so a recall waits for about one insert, not for the
// rest of a batch. Without that, a recall would wait half a batch on average.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine, type EngineProcess } from '../helpers/engine-process.js';
import { clusteredObservations } from '../helpers/vectors.js';

const BATCH = 400;

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

describe('recall priority under ingest', () => {
  let engine: EngineProcess;
  beforeAll(async () => {
    engine = await startEngine({ workers: 1, batch: { min: BATCH, max: BATCH }, idleSleepMs: 0, 'queue.capacity': 20_000 });
  });
  afterAll(async () => {
    await engine.stop();
  });

  it('answers recalls in a small fraction of one batch\'s insert time', async () => {
    const client = engine.client();
    const data = clusteredObservations('busy', 6000, 768, 3);
    const warm = await client.openStream({ memorySpace: 'busy' });
    for (const o of data.slice(0, 800)) await warm.send(o);
    await warm.close({ drain: true });

    const stream = await client.openStream({ memorySpace: 'busy', maxBatch: 500, maxInFlight: 6000 });
    const sending = (async () => {
      for (const o of data.slice(800)) await stream.send(o);
      await stream.settled();
    })();
    await new Promise((r) => setTimeout(r, 300));
    const before = await client.stats();
    const t0 = performance.now();
    const latencies: number[] = [];
    // recall for two seconds: several batches' worth of inserts on this one worker
    for (let i = 0; performance.now() - t0 < 2000; i++) {
      const q = data[(i * 7) % 800]!;
      const started = performance.now();
      const result = await client.recall({ memorySpace: 'busy', vector: q.embedding, k: 10 });
      latencies.push(performance.now() - started);
      expect(result.hits[0]?.id).toBe(q.id);
      await new Promise((r) => setTimeout(r, 5));
    }
    const after = await client.stats();
    const indexedPerMs = (Number(after.observationsIndexed) - Number(before.observationsIndexed)) / (performance.now() - t0);
    const batchMs = BATCH / indexedPerMs;
    await sending;
    await stream.close({ drain: true });

    // ingest really ran during the recalls, in full batches
    expect(Number(after.observationsIndexed) - Number(before.observationsIndexed)).toBeGreaterThan(2 * BATCH);
    const p50 = quantile(latencies, 0.5);
    const p99 = quantile(latencies, 0.99);
    console.log(`one batch of ${BATCH}: ${batchMs.toFixed(0)} ms; recall p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`);
    expect(p50).toBeLessThan(batchMs / 10);
    expect(p99).toBeLessThan(batchMs / 3);
  });
});
