import { afterEach, describe, expect, it } from 'vitest';
import { ItemExponentialBackoff } from './rate-limiter.js';
import { WorkQueue } from './work-queue.js';
import type { WorkQueueMetrics } from './controller-metrics.js';

function recordingMetrics() {
  const seen = { adds: 0, retries: 0, depth: 0 };
  const metrics: WorkQueueMetrics = {
    depth: { set: (v) => (seen.depth = v) }, adds: { inc: () => seen.adds++ }, retries: { inc: () => seen.retries++ },
    queueDuration: { observe: () => undefined }, workDuration: { observe: () => undefined },
    unfinishedWork: { set: () => undefined }, longestRunning: { set: () => undefined },
  };
  return { metrics, seen };
}

describe('WorkQueue', () => {
  const queues: WorkQueue[] = [];
  const make = (base = 10) => {
    const { metrics, seen } = recordingMetrics();
    const q = new WorkQueue(new ItemExponentialBackoff({ baseDelayMs: base, maxDelayMs: 1000 }), metrics);
    queues.push(q);
    return { q, seen };
  };
  afterEach(() => queues.splice(0).forEach((q) => q.shutDown()));

  it('queues a key once however often it is added while waiting', async () => {
    const { q, seen } = make();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.length).toBe(2);
    expect(seen.adds).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
  });

  it('never hands a key being processed to a second worker, and queues it again when the first is done', async () => {
    const { q } = make();
    q.add('a');
    const first = await q.get();
    q.add('a'); // changed while being reconciled
    expect(q.length).toBe(0);
    let second: string | undefined;
    const waiting = q.get().then((k) => (second = k));
    await new Promise((r) => setTimeout(r, 10));
    expect(second).toBeUndefined();
    q.done(first!);
    await waiting;
    expect(second).toBe('a');
  });

  it('retries with a backoff that doubles per failure and resets when forgotten', async () => {
    const backoff = new ItemExponentialBackoff({ baseDelayMs: 100, maxDelayMs: 350 });
    expect([backoff.when('k'), backoff.when('k'), backoff.when('k'), backoff.when('k')]).toEqual([100, 200, 350, 350]);
    expect(backoff.retries('k')).toBe(4);
    expect(backoff.when('other')).toBe(100);
    backoff.forget('k');
    expect(backoff.when('k')).toBe(100);
  });

  it('brings a rate-limited key back after its backoff, not before', async () => {
    const { q, seen } = make(40);
    q.addRateLimited('a');
    expect(seen.retries).toBe(1);
    expect(q.length).toBe(0);
    const started = Date.now();
    expect(await q.get()).toBe('a');
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
  });

  it('keeps the earlier of two delayed adds of one key', async () => {
    const { q } = make();
    q.addAfter('a', 500);
    q.addAfter('a', 20);
    const started = Date.now();
    expect(await q.get()).toBe('a');
    expect(Date.now() - started).toBeLessThan(400);
  });

  it('releases waiting workers with undefined on shutdown and ignores later adds', async () => {
    const { q } = make();
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
    q.add('a');
    expect(await q.get()).toBeUndefined();
  });
});
