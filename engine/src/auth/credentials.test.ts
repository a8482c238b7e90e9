import { describe, expect, it } from 'vitest';
import { isEngramError } from '../errors.js';
import { CredentialSet, hashKey, newKey, parseBearer, parseKeyDocument, type KeyEntry } from './credentials.js';

const admin = newKey();
const acme = newKey();
const old = newKey();
const entries: KeyEntry[] = [
  { id: 'ops', role: 'admin', sha256: hashKey(admin) },
  { id: 'acme-1', role: 'tenant', tenant: 'acme', sha256: hashKey(acme) },
  { id: 'acme-0', role: 'tenant', tenant: 'acme', sha256: hashKey(old), expiresAt: '2026-01-01T00:00:00Z' },
];
const NOW = Date.parse('2026-06-01T00:00:00Z');

function refusal(work: () => unknown): string {
  try {
    work();
  } catch (e) {
    if (isEngramError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  throw new Error('not refused');
}

describe('CredentialSet', () => {
  const set = new CredentialSet(entries);

  it('maps a key to its role and tenant, never keeping the key', () => {
    expect(set.authenticate(admin, NOW)).toEqual({ kind: 'key', keyId: 'ops', role: 'admin', keyHash: hashKey(admin) });
    expect(set.authenticate(acme, NOW)).toMatchObject({ keyId: 'acme-1', role: 'tenant', tenant: 'acme' });
    expect(JSON.stringify(set.summary())).not.toContain(acme);
  });

  it.each([
    ['no key', null, 'CREDENTIALS_MISSING: this engine requires an API key: send the metadata "authorization: Bearer <key>"'],
    ['a wrong key', 'esk_not-a-key', 'CREDENTIALS_INVALID: the API key is not valid (unknown or revoked)'],
    ['a key one character off', `${acme.slice(0, -1)}x`, 'CREDENTIALS_INVALID: the API key is not valid (unknown or revoked)'],
    ['an expired key', old, "CREDENTIALS_EXPIRED: the API key 'acme-0' expired at 2026-01-01T00:00:00Z"],
  ])('refuses %s', (_, token, message) => {
    const error = refusal(() => set.authenticate(token, NOW));
    expect(error).toBe(message);
    if (token) expect(error).not.toContain(token);
  });

  it('says when a principal authenticated earlier lapsed: revoked, replaced under the same id, or expired', () => {
    const principal = set.authenticate(acme, NOW);
    expect(set.lapsed(principal, NOW)).toBeNull();
    expect(new CredentialSet(entries.filter((e) => e.id !== 'acme-1')).lapsed(principal, NOW)?.code).toBe('CREDENTIALS_INVALID');
    const replaced = entries.map((e) => (e.id === 'acme-1' ? { ...e, sha256: hashKey(newKey()) } : e));
    expect(new CredentialSet(replaced).lapsed(principal, NOW)?.code).toBe('CREDENTIALS_INVALID');
    const expiring = entries.map((e) => (e.id === 'acme-1' ? { ...e, expiresAt: '2026-06-01T00:00:01Z' } : e));
    expect(new CredentialSet(expiring).lapsed(principal, NOW)).toBeNull();
    expect(new CredentialSet(expiring).lapsed(principal, NOW + 1000)?.code).toBe('CREDENTIALS_EXPIRED');
    expect(set.lapsed({ kind: 'insecure' }, NOW)).toBeNull();
  });
});

describe('parseBearer', () => {
  it.each([
    [undefined, null],
    ['Bearer abc', 'abc'],
    ['bearer  abc ', 'abc'],
  ])('reads %j as %j', (header, token) => expect(parseBearer(header)).toBe(token));

  it.each(['Basic abc', 'Bearer', 'Bearer a b', 'abc'])('refuses %j', (header) => {
    expect(refusal(() => parseBearer(header))).toBe('CREDENTIALS_INVALID: the authorization header must be "Bearer <key>"');
  });
});

describe('parseKeyDocument', () => {
  const hash = hashKey('k');
  it.each([
    ['a list', [], 'f: expected a mapping with a "keys" list'],
    ['no keys list', { keys: 'x' }, 'f: "keys" must be a list'],
    ['an extra field', { keys: [], admins: [] }, "f: unknown field 'admins' (expected only \"keys\")"],
    ['a bad id', { keys: [{ id: 'a b', role: 'admin', sha256: hash }] }, "f: keys[0].id: expected 1-63 letters, digits, '.', '_' or '-', got 'a b'"],
    ['an id twice', { keys: [{ id: 'a', role: 'admin', sha256: hash }, { id: 'a', role: 'admin', sha256: hash }] }, "f: keys[1].id: 'a' is listed twice"],
    ['a bad role', { keys: [{ id: 'a', role: 'root', sha256: hash }] }, "f: keys[0].role: expected one of admin, tenant, metrics, got 'root'"],
    ['a tenant key without tenant', { keys: [{ id: 'a', role: 'tenant', sha256: hash }] }, 'f: keys[0].tenant: a tenant key names its tenant'],
    ['an admin key with a tenant', { keys: [{ id: 'a', role: 'admin', tenant: 't', sha256: hash }] }, 'f: keys[0].tenant: only a tenant key names a tenant (role is admin)'],
    ['a key in place of its hash', { keys: [{ id: 'a', role: 'admin', sha256: 'esk_secret' }] }, "f: keys[0].sha256: expected the key's SHA-256 as 64 lower-case hex digits"],
    ['a bad expiry', { keys: [{ id: 'a', role: 'admin', sha256: hash, expiresAt: 'soon' }] }, "f: keys[0].expiresAt: expected an ISO 8601 time, got 'soon'"],
    ['an unknown key field', { keys: [{ id: 'a', role: 'admin', sha256: hash, key: 'x' }] }, "f: keys[0]: unknown field 'key' (id, role, tenant, sha256, expiresAt)"],
  ])('refuses %s, naming the entry and field', (_, doc, message) => {
    expect(refusal(() => parseKeyDocument(doc, 'f'))).toBe(`INVALID_CREDENTIALS_FILE: ${message}`);
  });

  it('keeps a sound document as it is', () => {
    const doc = { keys: [{ id: 'm', role: 'metrics', sha256: hash }, { id: 't', role: 'tenant', tenant: 'acme', sha256: hash, expiresAt: '2027-01-01T00:00:00Z' }] };
    expect(parseKeyDocument(doc, 'f')).toEqual(doc.keys);
  });
});
