// Tenants: a rate limit refuses the excess precisely (RATE_LIMITED with retry-after, no sequence
// number consumed), a vector quota and a space quota hold, and limits change on a running engine.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine, type EngineProcess } from '../helpers/engine-process.js';
import { clusteredObservations, metricValue } from '../helpers/vectors.js';

const DIM = 32;

describe('tenant limits', () => {
  let engine: EngineProcess;
  beforeAll(async () => {
    engine = await startEngine({
      'hnsw.dimension': DIM,
      tenants: [
        { name: 'slow', spaces: ['slow-*'], rateLimit: 200, burst: 50 },
        { name: 'small', spaces: ['small-*'], maxVectors: 100, maxSpaces: 2 },
      ],
    });
  });
  afterAll(async () => {
    await engine.stop();
  });

  it('holds a tenant to its rate and accepts everything in the end', async () => {
    const stream = await engine.client().openStream({ memorySpace: 'slow-one', maxBatch: 50 });
    const refusals: Array<{ reason: string; retryAfterMs: number }> = [];
    stream.on('refused', (a) => refusals.push({ reason: a.reason, retryAfterMs: a.retryAfterMs }));
    const started = Date.now();
    for (const o of clusteredObservations('slow-one', 250, DIM)) await stream.send(o);
    const counts = await stream.close({ drain: true });
    const seconds = (Date.now() - started) / 1000;
    expect(counts).toMatchObject({ accepted: 250, indexed: 250, rejected: 0 });
    expect(refusals[0]?.reason).toBe("tenant 'slow' is limited to 200 observations/s");
    expect(refusals[0]?.retryAfterMs).toBeGreaterThan(0);
    // 50 in the burst, 200 more at 200/s: about a second, never much faster
    expect(seconds).toBeGreaterThan(0.8);
    expect(metricValue(await engine.metrics(), 'engram_tenant_observations_rejected_total', { tenant: 'slow', reason: 'rate_limited' })).toBeGreaterThan(0);
  });

  it('stops a tenant at its vector quota and says so', async () => {
    const stream = await engine.client().openStream({ memorySpace: 'small-a', maxBatch: 30, maxInFlight: 150 });
    const refusals: string[] = [];
    stream.on('refused', (a) => refusals.push(a.reason));
    const data = clusteredObservations('small-a', 120, DIM);
    for (const o of data.slice(0, 100)) await stream.send(o);
    await stream.settled();
    expect(stream.counts.accepted).toBe(100);
    await stream.send(data[100]!);
    const deadline = Date.now() + 3000;
    while (refusals.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(refusals[0]).toBe("tenant 'small' stores 100 of its 100 vectors");
    stream.cancel();
  });

  it('refuses a memory space over the tenant\'s space quota at init', async () => {
    const client = engine.client();
    const b = await client.openStream({ memorySpace: 'small-b' });
    await b.close();
    await expect(client.openStream({ memorySpace: 'small-c' })).rejects.toMatchObject({
      code: status.RESOURCE_EXHAUSTED, details: "tenant 'small' already has 2 of its 2 memory spaces; cannot create 'small-c'",
    });
  });

  it('refuses a client that names another tenant than the space\'s owner', async () => {
    await expect(engine.client().openStream({ memorySpace: 'slow-one', tenant: 'small' })).rejects.toMatchObject({
      code: status.PERMISSION_DENIED, details: "memory space 'slow-one' belongs to tenant 'slow', not 'small'",
    });
  });

  it('applies new tenant limits live: a raised quota admits more at once', async () => {
    const client = engine.client();
    await client.applyConfig({ tenants: [{ name: 'slow', spaces: ['slow-*'], rateLimit: 200, burst: 50 }, { name: 'small', spaces: ['small-*'], maxVectors: 200, maxSpaces: 3 }] });
    const stream = await client.openStream({ memorySpace: 'small-c' });
    for (const o of clusteredObservations('small-c', 50, DIM)) await stream.send(o);
    expect(await stream.close({ drain: true })).toMatchObject({ accepted: 50, indexed: 50 });
    expect(metricValue(await engine.metrics(), 'engram_tenant_vector_quota', { tenant: 'small' })).toBe(200);
  });
});
