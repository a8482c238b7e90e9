// An idle worker takes a memory space (with its index) off a worker whose queue is over the steal
// threshold; the move is counted, nothing is lost, and the moved space still answers recalls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spacesOnWorker, startEngine, type EngineProcess } from '../helpers/engine-process.js';
import { clusteredObservations, metricValue } from '../helpers/vectors.js';

const PER_SPACE = 1200;

describe('work stealing', () => {
  let engine: EngineProcess;
  const spaces = spacesOnWorker('steal', 3, 0, 2);
  beforeAll(async () => {
    engine = await startEngine({ workers: 2, stealThreshold: 200, 'queue.capacity': 20_000, 'hnsw.dimension': 384 });
  });
  afterAll(async () => {
    await engine.stop();
  });

  it('moves a waiting space to the idle worker and loses nothing', async () => {
    const client = engine.client();
    const data = new Map(spaces.map((s, i) => [s, clusteredObservations(s, PER_SPACE, 384, 20 + i)]));
    const counts = await Promise.all(spaces.map(async (space) => {
      const stream = await client.openStream({ memorySpace: space, maxBatch: 200, maxInFlight: PER_SPACE });
      for (const o of data.get(space)!) await stream.send(o);
      return stream.close({ drain: true });
    }));
    for (const c of counts) expect(c).toMatchObject({ accepted: PER_SPACE, indexed: PER_SPACE, rejected: 0 });

    const stolen = metricValue(await engine.metrics(), 'engram_streaming_work_stolen_total', { worker_id: '1' }) ?? 0;
    expect(stolen).toBeGreaterThanOrEqual(1);
    const stats = await client.stats();
    const moved = stats.spaces.filter((s) => spaces.includes(s.memorySpace) && s.worker === 1);
    expect(moved.length).toBeGreaterThanOrEqual(1);
    expect(stats.workers.find((w) => w.worker === 1)?.indexed).toBeGreaterThan(0);
    for (const s of spaces) expect(stats.spaces.find((x) => x.memorySpace === s)?.vectors).toBe(PER_SPACE);

    const space = moved[0]!.memorySpace;
    let misses = 0;
    for (const o of data.get(space)!.filter((_, i) => i % 10 === 0)) {
      if ((await client.recall({ memorySpace: space, vector: o.embedding, k: 1 })).hits[0]?.id !== o.id) misses++;
    }
    expect(misses).toBe(0);
  });
});
