// Half of the worker threads are killed mid-stream: the supervisor replaces them, their spaces come
// back from snapshot and log, their in-flight batches are indexed again, and nothing acknowledged
// is lost or stored twice. The engine is ready again well within 60 s.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine, type EngineProcess } from '../helpers/engine-process.js';
import { expectStored, readyStatus, waitFor } from '../helpers/durability.js';
import { clusteredObservations, metricValue } from '../helpers/vectors.js';

const DIM = 64;
const PER_SPACE = 1500;
const SPACES = Array.from({ length: 8 }, (_, i) => `wf-${i}`);

describe('worker thread failure', () => {
  let engine: EngineProcess;
  beforeAll(async () => {
    engine = await startEngine({ workers: 4, 'hnsw.dimension': DIM, 'durability.snapshotIntervalMs': 1000 }, ['--enable-fault-injection']);
  });
  afterAll(async () => {
    await engine.stop();
  });

  it('replaces killed workers and loses nothing acknowledged', async () => {
    const client = engine.client();
    const data = new Map(SPACES.map((s, i) => [s, clusteredObservations(s, PER_SPACE, DIM, 100 + i)]));
    let sent = 0;
    let killedAt = 0;
    const kill = async (): Promise<void> => {
      killedAt = performance.now();
      expect(await client.killWorkers([0, 1])).toEqual([0, 1]);
    };
    const streams = Promise.all(SPACES.map(async (space) => {
      const stream = await client.openStream({ memorySpace: space, maxBatch: 100 });
      for (const o of data.get(space)!) {
        await stream.send(o);
        if (++sent === Math.floor((SPACES.length * PER_SPACE) / 2)) await kill();
      }
      return stream.close({ drain: true });
    }));
    for (const counts of await streams) expect(counts).toMatchObject({ accepted: PER_SPACE, indexed: PER_SPACE, rejected: 0 });
    const recovery = await waitFor(async () => (await readyStatus(engine.httpUrl)) === 200, 60_000, 'ready after the kill');
    expect(performance.now() - killedAt).toBeLessThan(60_000);
    expect(recovery).toBeLessThan(60_000);

    const metrics = await engine.metrics();
    expect(metricValue(metrics, 'engram_streaming_worker_restarts_total', { worker_id: '0' })).toBe(1);
    expect(metricValue(metrics, 'engram_streaming_worker_restarts_total', { worker_id: '1' })).toBe(1);
    expect(metricValue(metrics, 'engram_streaming_workers')).toBe(4);
    const stats = await client.stats();
    for (const space of SPACES) {
      expect(stats.spaces.find((s) => s.memorySpace === space)?.vectors, space).toBe(PER_SPACE);
      await expectStored(client, space, data.get(space)!);
    }
  }, 120_000);

  it('refuses fault injection on an engine started without it', async () => {
    const plain = await startEngine({ 'hnsw.dimension': DIM });
    try {
      await expect(plain.client().killWorkers([0])).rejects.toMatchObject({
        code: status.FAILED_PRECONDITION, details: expect.stringContaining('--enable-fault-injection'),
      });
    } finally {
      await plain.stop();
    }
  });
});
