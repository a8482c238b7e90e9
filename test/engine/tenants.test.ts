// Tenants: a rate limit holds a stream to its rate (a batch waits for its tokens) and refuses what
// would wait too long precisely (RATE_LIMITED with a retry-after for the tokens it needs, no
// sequence number consumed), a vector quota refuses for good, a space quota
// holds, and limits change on a running engine.
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

  it('holds a stream over its tenant\'s rate until its tokens come: accepted late, at the rate, never refused', async () => {
    const stream = await engine.client().openStream({ memorySpace: 'slow-one', maxBatch: 50 });
    const refused: string[] = [];
    const slowDowns: number[] = [];
    stream.on('refused', (a) => refused.push(String(a.code)));
    stream.on('flow', (f) => f.action === 'SLOW_DOWN' && slowDowns.push(f.suggestedRate));
    // the series is there at 0 before the first delay (increase() over it would miss that one)
    expect(metricValue(await engine.metrics(), 'engram_tenant_observations_delayed_total', { tenant: 'slow' })).toBe(0);
    const started = Date.now();
    for (const o of clusteredObservations('slow-one', 250, DIM)) await stream.send(o);
    const counts = await stream.close({ drain: true });
    const seconds = (Date.now() - started) / 1000;
    expect(counts).toMatchObject({ accepted: 250, indexed: 250, rejected: 0, resent: 0 });
    expect(refused).toEqual([]);
    // 50 in the burst, 200 more at 200/s: about a second, never much faster
    expect(seconds).toBeGreaterThan(0.8);
    // the client was told to slow to its tenant's rate, and the held observations are counted
    expect(slowDowns.length).toBeGreaterThan(0);
    expect(new Set(slowDowns)).toEqual(new Set([200]));
    expect(metricValue(await engine.metrics(), 'engram_tenant_observations_delayed_total', { tenant: 'slow' })).toBeGreaterThan(0);
  });

  it('refuses what the tenant would not earn within two seconds (RATE_LIMITED, a retry time) and accepts everything in the end', async () => {
    // twelve streams at once: a batch of 50 each is more than the burst and two seconds of tokens
    const client = engine.client();
    const refusals: Array<{ reason: string; retryAfterMs: number }> = [];
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 12 }, async (_, s) => {
      const space = `slow-many-${s}`;
      const stream = await client.openStream({ memorySpace: space, maxBatch: 50 });
      stream.on('refused', (a) => {
        if (a.code === 'REJECT_RATE_LIMITED') refusals.push({ reason: a.reason, retryAfterMs: a.retryAfterMs });
      });
      for (const o of clusteredObservations(space, 100, DIM, s)) await stream.send(o);
      return stream.close({ drain: true });
    }));
    const seconds = (Date.now() - started) / 1000;
    for (const counts of results) expect(counts).toMatchObject({ accepted: 100, indexed: 100, rejected: 0 });
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals[0]!.reason).toContain("tenant 'slow' is limited to 200 observations/s");
    // the hint is when tokens for the refused part are there, never the 1 ms that made clients spin
    expect(Math.min(...refusals.map((r) => r.retryAfterMs))).toBeGreaterThanOrEqual(20);
    expect(Math.max(...refusals.map((r) => r.retryAfterMs))).toBeLessThanOrEqual(10_000);
    // and a client that follows it asks only a few times: not thousands of refusals
    expect(refusals.length).toBeLessThan(100);
    // 1,200 observations at 200/s after a burst of 50: never much faster than the rate
    expect(seconds).toBeGreaterThan(5);
    expect(metricValue(await engine.metrics(), 'engram_tenant_observations_rejected_total', { tenant: 'slow', reason: 'rate_limited' })).toBeGreaterThan(0);
  });

  it('stops a tenant at its vector quota: each refusal is final and consumes its number', async () => {
    const stream = await engine.client().openStream({ memorySpace: 'small-a', maxBatch: 30, maxInFlight: 150 });
    const rejected: Array<{ code: string; first: number; last: number; reason: string; retryAfterMs: number }> = [];
    stream.on('rejected', (a) => rejected.push({ code: String(a.code), first: Number(a.firstSequence), last: Number(a.lastSequence), reason: a.reason, retryAfterMs: a.retryAfterMs }));
    const data = clusteredObservations('small-a', 120, DIM);
    for (const o of data.slice(0, 100)) await stream.send(o);
    await stream.settled();
    expect(stream.counts.accepted).toBe(100);
    for (const o of data.slice(100)) await stream.send(o);
    await stream.settled();
    // all 20 over the quota refused once each, none resent, the stream settled on them
    expect(rejected).toEqual([expect.objectContaining({ code: 'REJECT_QUOTA_EXCEEDED', first: 101, last: 120, retryAfterMs: 0 })]);
    expect(rejected[0]!.reason).toContain("tenant 'small' stores 100 of its 100 vectors");
    expect(stream.counts).toMatchObject({ accepted: 100, rejected: 20, resent: 0 });
    expect(stream.counts.refusals.REJECT_QUOTA_EXCEEDED).toBeUndefined();
    stream.cancel();
  });

  it('gives a tenant that lists no spaces the spaces <name>-*', async () => {
    const client = engine.client();
    const before = (await client.getConfig()).config.tenants as Array<Record<string, unknown>>;
    await client.applyConfig({ tenants: [...before, { name: 'acme', rateLimit: 1000 }] });
    const own = await client.openStream({ memorySpace: 'acme-x', tenant: 'acme' });
    for (const o of clusteredObservations('acme-x', 10, DIM)) await own.send(o);
    expect(await own.close({ drain: true })).toMatchObject({ accepted: 10 });
    await expect(client.openStream({ memorySpace: 'other-x', tenant: 'acme' })).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    await client.applyConfig({ tenants: before });
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
