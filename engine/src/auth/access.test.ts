import { describe, expect, it } from 'vitest';
import { EngramError } from '../errors.js';
import { checkMethod, checkScrape, checkSpace, METHOD_ACCESS, reaches } from './access.js';
import type { Principal } from './credentials.js';
import { loadEngramProto } from '../wire/load-proto.js';

const admin: Principal = { kind: 'key', keyId: 'ops', role: 'admin', keyHash: 'h' };
const acme: Principal = { kind: 'key', keyId: 'acme-1', role: 'tenant', tenant: 'acme', keyHash: 'h' };
const scraper: Principal = { kind: 'key', keyId: 'prom', role: 'metrics', keyHash: 'h' };
const insecure: Principal = { kind: 'insecure' };

function codeOf(work: () => void): string {
  try {
    work();
    return 'allowed';
  } catch (e) {
    return e instanceof EngramError ? e.code : String(e);
  }
}

describe('access', () => {
  it.each([
    ['engram.v1.Streaming/ObserveStream', 'allowed', 'allowed', 'PERMISSION_DENIED'],
    ['engram.v1.Streaming/Recall', 'allowed', 'allowed', 'PERMISSION_DENIED'],
    ['engram.v1.Admin/GetStats', 'allowed', 'allowed', 'PERMISSION_DENIED'],
    ['engram.v1.Admin/ApplyConfig', 'allowed', 'ADMIN_REQUIRED', 'ADMIN_REQUIRED'],
    ['engram.v1.Admin/GetConfig', 'allowed', 'ADMIN_REQUIRED', 'ADMIN_REQUIRED'],
    ['engram.v1.Admin/InjectFault', 'allowed', 'ADMIN_REQUIRED', 'ADMIN_REQUIRED'],
    ['engram.v1.Cluster/GetTopology', 'allowed', 'allowed', 'PERMISSION_DENIED'],
    ['engram.v1.Cluster/ApplyPlacement', 'allowed', 'ADMIN_REQUIRED', 'ADMIN_REQUIRED'],
    ['engram.v1.Cluster/ExportSpace', 'allowed', 'ADMIN_REQUIRED', 'ADMIN_REQUIRED'],
    ['engram.v1.Cluster/SomethingNew', 'allowed', 'ADMIN_REQUIRED', 'ADMIN_REQUIRED'],
  ])('%s: admin %s, tenant %s, metrics key %s', (method, forAdmin, forTenant, forScraper) => {
    expect([codeOf(() => checkMethod(admin, method)), codeOf(() => checkMethod(acme, method)), codeOf(() => checkMethod(scraper, method))])
      .toEqual([forAdmin, forTenant, forScraper]);
    expect(codeOf(() => checkMethod(insecure, method))).toBe('allowed');
  });

  it('states the access of every method the proto has (a new RPC must be placed on purpose)', () => {
    const v1 = loadEngramProto().engram.v1;
    const methods = (['Streaming', 'Admin', 'Cluster'] as const).flatMap((service) => Object.keys(v1[service].service).map((m) => `engram.v1.${service}/${m}`));
    expect(Object.keys(METHOD_ACCESS).sort()).toEqual(methods.sort());
  });

  it('lets a tenant key reach its own spaces only, without naming who owns the others', () => {
    expect(reaches(acme, 'acme')).toBe(true);
    expect(reaches(acme, 'globex')).toBe(false);
    expect(reaches(acme, 'default')).toBe(false);
    expect(reaches(admin, 'globex')).toBe(true);
    expect(() => checkSpace(acme, 'globex-notes', 'globex')).toThrow("memory space 'globex-notes' is not one of tenant 'acme''s spaces");
    expect(codeOf(() => checkSpace(acme, 'globex-notes', 'globex'))).toBe('SPACE_FORBIDDEN');
    expect(codeOf(() => checkSpace(acme, 'acme-notes', 'acme'))).toBe('allowed');
  });

  it('lets metrics and admin keys scrape, not tenants', () => {
    expect([scraper, admin, acme].map((p) => codeOf(() => checkScrape(p)))).toEqual(['allowed', 'allowed', 'PERMISSION_DENIED']);
  });
});
