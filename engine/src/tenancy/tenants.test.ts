import { describe, expect, it } from 'vitest';
import { Tenants } from './tenants.js';

const acme = { name: 'acme', spaces: ['acme-*'], rateLimit: 300, burst: 0, maxVectors: 0, maxSpaces: 0 };

describe('Tenants: a rate limit shared by the pods of a stream', () => {
  it('admits the whole limit alone, and 1/N of it (burst too) as one of N pods', () => {
    let now = 0;
    const tenants = new Tenants([acme], () => now);
    const tenant = tenants.tenantOf('acme-1');
    expect(tenants.checkRate(tenant, 1000).allowed).toBe(300);
    tenants.setShare(1 / 3);
    expect(tenants.localRate(tenant)).toBe(100);
    expect(tenants.pods).toBe(3);
    expect(tenants.checkRate(tenant, 1000).allowed).toBe(100); // tokens capped at the new burst
    tenants.spend(tenant, 100);
    now += 500;
    expect(tenants.checkRate(tenant, 1000).allowed).toBe(50); // refills at 100/s
  });
});

describe('Tenants: retry times as slots', () => {
  it('gives each refusal its own stretch of the tenant\'s future tokens, so its streams come back one after another', () => {
    let now = 0;
    const tenants = new Tenants([acme, { ...acme, name: 'globex', spaces: ['globex-*'] }], () => now);
    const tenant = tenants.tenantOf('acme-1');
    tenants.spend(tenant, tenants.checkRate(tenant, 300).allowed); // the burst is spent
    // three streams each refused 60 at 300/s: 200 ms of tokens apiece, back to back
    const hints = [1, 2, 3].map(() => tenants.checkRate(tenant, 60).retryAfterMs);
    expect(hints).toEqual([200, 400, 600]);
    // another tenant's refusals are its own
    const other = tenants.tenantOf('globex-1');
    tenants.spend(other, tenants.checkRate(other, 300).allowed);
    expect(tenants.checkRate(other, 60).retryAfterMs).toBe(200);
    // once the promised stretch has passed, a refusal waits only for its own tokens again
    now += 2000;
    tenants.spend(tenant, tenants.checkRate(tenant, 300).allowed);
    expect(tenants.checkRate(tenant, 30).retryAfterMs).toBe(100);
  });
});
