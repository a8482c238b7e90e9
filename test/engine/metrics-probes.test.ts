// /metrics carries every metric users' dashboards expect (names from the design facts), with
// samples after real traffic; /healthz, /readyz and grpc.health.v1 answer; SIGTERM drains.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine, type EngineProcess } from '../helpers/engine-process.js';
import { clusteredObservations, metricValue } from '../helpers/vectors.js';

const EXPECTED = [
  'engram_streaming_observations_total', 'engram_streaming_observations_rejected_total',
  'engram_streaming_backpressure_activations_total', 'engram_streaming_batches_processed_total',
  'engram_streaming_batch_failures_total', 'engram_streaming_work_stolen_total',
  'engram_streaming_queue_depth', 'engram_streaming_worker_utilization', 'engram_streaming_active_sessions_total',
  'engram_streaming_backpressure_state', 'engram_streaming_queue_memory_bytes',
  'engram_streaming_observation_latency_seconds', 'engram_streaming_recall_latency_seconds',
  'engram_streaming_batch_size', 'engram_streaming_queue_wait_time_seconds',
  'grpc_server_started_total', 'grpc_server_handled_total', 'grpc_server_handling_seconds',
];

function healthCheck(address: string, service: string): Promise<string> {
  const require = createRequire(import.meta.url);
  const { protoPath } = require('grpc-health-check') as { protoPath: string };
  const def = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath, { enums: String })) as unknown as {
    grpc: { health: { v1: { Health: new (a: string, c: grpc.ChannelCredentials) => grpc.Client & { check(r: object, cb: (e: Error | null, r: { status: string }) => void): void } } } };
  };
  const client = new def.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => client.check({ service }, (e, r) => {
    client.close();
    if (e) reject(e);
    else resolve(r.status);
  }));
}

describe('metrics and probes', () => {
  let engine: EngineProcess;
  beforeAll(async () => {
    engine = await startEngine({ 'queue.capacity': 300, 'hnsw.dimension': 64, workers: 2 });
    const client = engine.client();
    const stream = await client.openStream({ memorySpace: 'metered', honoursBackpressure: false, maxBatch: 200 });
    const data = clusteredObservations('metered', 3000, 64);
    for (const o of data) await stream.send(o);
    await stream.close({ drain: true });
    await client.recall({ memorySpace: 'metered', vector: data[0]!.embedding, k: 5 });
    await client.recall({ memorySpace: 'missing', vector: data[0]!.embedding, k: 5 }).catch(() => {});
    await new Promise((r) => setTimeout(r, 1200)); // one utilisation window
  });
  afterAll(async () => {
    if (engine.process.exitCode === null) await engine.stop();
  });

  it('exports every metric the dashboards and alerts use', async () => {
    const text = await engine.metrics();
    const missing = EXPECTED.filter((name) => !new RegExp(`^# TYPE ${name} `, 'm').test(text));
    expect(missing).toEqual([]);
  });

  it('records the traffic: accepted and indexed counts, rejections, batches, latencies, gRPC codes', async () => {
    const text = await engine.metrics();
    expect(metricValue(text, 'engram_streaming_observations_total', { memory_space: 'metered', priority: 'normal' })).toBe(3000);
    expect(metricValue(text, 'engram_streaming_observations_indexed_total', { memory_space: 'metered' })).toBe(3000);
    expect(metricValue(text, 'engram_streaming_observations_rejected_total', { memory_space: 'metered', reason: 'backpressure' })).toBeGreaterThan(0);
    expect(metricValue(text, 'engram_streaming_observation_latency_seconds_count', { memory_space: 'metered' })).toBe(3000);
    expect(metricValue(text, 'engram_streaming_recall_latency_seconds_count')).toBe(1); // refused recalls count in grpc_server_handled_total only
    const batches = (metricValue(text, 'engram_streaming_batches_processed_total', { worker_id: '0' }) ?? 0)
      + (metricValue(text, 'engram_streaming_batches_processed_total', { worker_id: '1' }) ?? 0);
    expect(batches).toBeGreaterThan(0);
    expect(metricValue(text, 'grpc_server_handled_total', { grpc_method: 'Recall', grpc_code: 'OK' })).toBe(1);
    expect(metricValue(text, 'grpc_server_handled_total', { grpc_method: 'Recall', grpc_code: 'NOT_FOUND' })).toBe(1);
    expect(metricValue(text, 'grpc_server_handled_total', { grpc_method: 'ObserveStream', grpc_code: 'OK' })).toBe(1);
    expect(metricValue(text, 'engram_streaming_queue_depth', { priority: 'normal' })).toBe(0);
    expect(metricValue(text, 'engram_index_vectors', { memory_space: 'metered' })).toBe(3000);
  });

  it('answers the probes and the gRPC health service', async () => {
    expect((await fetch(`${engine.httpUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${engine.httpUrl}/readyz`)).status).toBe(200);
    expect(await healthCheck(engine.address, '')).toBe('SERVING');
    expect(await healthCheck(engine.address, 'engram.v1.Streaming')).toBe('SERVING');
  });

  it('drains and exits 0 on SIGTERM', async () => {
    expect(await engine.stop('SIGTERM')).toBe(0);
    expect(engine.logs.some((l) => l.includes('"engine stopped"'))).toBe(true);
  });
});
