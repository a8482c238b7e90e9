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
