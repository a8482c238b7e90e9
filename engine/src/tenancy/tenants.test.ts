import { describe, expect, it } from 'vitest';
import { MAX_RATE_DELAY_MS, Tenants } from './tenants.js';

const acme = { name: 'acme', spaces: ['acme-*'], rateLimit: 300, burst: 0, maxVectors: 0, maxSpaces: 0 };
const seconds = MAX_RATE_DELAY_MS / 1000;

describe('Tenants: a rate limit shared by the pods of a stream', () => {
  it('admits the whole limit alone, and 1/N of it (burst too) as one of N pods', () => {
    let now = 0;
    const alone = new Tenants([acme], () => now);
    const tenant = alone.tenantOf('acme-1');
    expect(alone.reserveRate(tenant, 300)).toEqual({ allowed: 300, delayMs: 0, retryAfterMs: 0 });
    const shared = new Tenants([acme], () => now);
    shared.setShare(1 / 3);
    expect(shared.localRate(tenant)).toBe(100);
    expect(shared.pods).toBe(3);
    // a burst of 100, then 100/s for as long as a batch may wait
    expect(shared.reserveRate(tenant, 1000)).toMatchObject({ allowed: 100 + 100 * seconds, delayMs: MAX_RATE_DELAY_MS });
    now += MAX_RATE_DELAY_MS + 500;
    expect(shared.reserveRate(tenant, 50)).toMatchObject({ allowed: 50, delayMs: 0 }); // refilled at 100/s
  });
});

describe('Tenants: shaping', () => {
  it('holds a batch over the rate until its tokens are earned, each behind the ones before it', () => {
    const now = 0;
    const tenants = new Tenants([acme], () => now);
    const tenant = tenants.tenantOf('acme-1');
    tenants.reserveRate(tenant, 300); // the burst
    expect(tenants.reserveRate(tenant, 60)).toEqual({ allowed: 60, delayMs: 200, retryAfterMs: 0 });
    expect(tenants.reserveRate(tenant, 60)).toEqual({ allowed: 60, delayMs: 400, retryAfterMs: 0 });
    tenants.refund(tenant, 60); // the second was not accepted after all: its tokens go to the next
    expect(tenants.reserveRate(tenant, 60)).toEqual({ allowed: 60, delayMs: 400, retryAfterMs: 0 });
  });

  it('refuses what would wait longer than MAX_RATE_DELAY_MS, with a retry time for it', () => {
    const now = 0;
    const tenants = new Tenants([acme], () => now);
    const tenant = tenants.tenantOf('acme-1');
    const decision = tenants.reserveRate(tenant, 300 + 300 * seconds + 90);
    expect(decision).toMatchObject({ allowed: 300 + 300 * seconds, delayMs: MAX_RATE_DELAY_MS });
    expect(decision.retryAfterMs).toBe(MAX_RATE_DELAY_MS + 300); // after the debt, 90 more at 300/s
  });
});

describe('Tenants: retry times as slots', () => {
  it('gives each refusal its own stretch of the tenant\'s future tokens, so its streams come back one after another', () => {
    let now = 0;
    const tenants = new Tenants([acme, { ...acme, name: 'globex', spaces: ['globex-*'] }], () => now);
    const tenant = tenants.tenantOf('acme-1');
    const full = 300 + 300 * seconds; // the burst and every token promised as far ahead as allowed
    tenants.reserveRate(tenant, full);
    // three streams each refused 60 at 300/s: 200 ms of tokens apiece, back to back after the debt
    const hints = [1, 2, 3].map(() => tenants.reserveRate(tenant, 60).retryAfterMs);
    expect(hints).toEqual([MAX_RATE_DELAY_MS + 200, MAX_RATE_DELAY_MS + 400, MAX_RATE_DELAY_MS + 600]);
    // another tenant's refusals are its own
    const other = tenants.tenantOf('globex-1');
    tenants.reserveRate(other, full);
    expect(tenants.reserveRate(other, 60).retryAfterMs).toBe(MAX_RATE_DELAY_MS + 200);
    // once the promised stretch has passed, a refusal waits only for its own tokens again
    now += 10_000;
    tenants.reserveRate(tenant, full);
    expect(tenants.reserveRate(tenant, 30).retryAfterMs).toBe(MAX_RATE_DELAY_MS + 100);
  });
});
