// API keys: who a bearer token is. A key document lists each key by id with the SHA-256 of the key
// (never the key), its role (admin, a tenant, or metrics scraping) and an optional expiry. Keys are
// high-entropy random strings, so one hash round is enough; a presented token is hashed and
// compared with every stored hash in constant time (no early exit, no lookup keyed by the secret).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { EngramError, quote } from '../errors.js';

export const ROLES = ['admin', 'tenant', 'metrics'] as const;
export type Role = (typeof ROLES)[number];

export interface KeyEntry {
  /** Shown in logs and errors in place of the key. */
  id: string;
  role: Role;
  /** For role tenant: the tenant (engine config `tenants[].name`, or `default`) whose spaces it reaches. */
  tenant?: string;
  /** Hex SHA-256 of the key. */
  sha256: string;
  /** ISO 8601; after it the key is refused. */
  expiresAt?: string;
}

/** Who is calling: the key that matched, or the engine running without authentication. */
export type Principal =
  | { kind: 'key'; keyId: string; role: Role; tenant?: string; keyHash: string }
  | { kind: 'insecure' };

const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** The metadata (and HTTP) header a key is sent in: `authorization: Bearer <key>`. */
export const AUTHORIZATION_HEADER = 'authorization';
/** A prefix that makes a leaked key easy to find by secret scanners. */
export const KEY_PREFIX = 'esk_';

/** The key of an `authorization` header value (`Bearer <key>`); null when there is no header. */
export function parseBearer(value: string | undefined): string | null {
  if (value === undefined) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  if (!match) throw new EngramError('CREDENTIALS_INVALID', 'the authorization header must be "Bearer <key>"');
  return match[1]!;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A new random key (shown once; only its hash is stored). */
export function newKey(): string {
  return `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

interface StoredKey {
  entry: KeyEntry;
  hash: Buffer;
  expiresAtMs: number | null;
}

export class CredentialSet {
  private readonly keys: StoredKey[];

  constructor(entries: KeyEntry[]) {
    this.keys = entries.map((entry) => ({ entry, hash: Buffer.from(entry.sha256, 'hex'), expiresAtMs: entry.expiresAt ? Date.parse(entry.expiresAt) : null }));
  }

  get size(): number {
    return this.keys.length;
  }

  /** The key ids by role, for logs (never a key or a hash). */
  summary(): Record<Role, string[]> {
    const out: Record<Role, string[]> = { admin: [], tenant: [], metrics: [] };
    for (const { entry } of this.keys) out[entry.role].push(entry.id);
    return out;
  }

  /** The principal a bearer token stands for; UNAUTHENTICATED errors name the key id, never the token. */
  authenticate(token: string | null, nowMs: number): Principal {
    if (!token) throw new EngramError('CREDENTIALS_MISSING', 'this engine requires an API key: send the metadata "authorization: Bearer <key>"');
    const presented = createHash('sha256').update(token, 'utf8').digest();
    let match: StoredKey | null = null;
    for (const key of this.keys) {
      // every stored hash is compared, so the time taken does not tell which (or whether one) matched
      if (timingSafeEqual(key.hash, presented) && match === null) match = key;
    }
    if (!match) throw new EngramError('CREDENTIALS_INVALID', 'the API key is not valid (unknown or revoked)');
    if (match.expiresAtMs !== null && nowMs >= match.expiresAtMs) {
      throw new EngramError('CREDENTIALS_EXPIRED', `the API key '${match.entry.id}' expired at ${match.entry.expiresAt}`);
    }
    const { id, role, tenant, sha256 } = match.entry;
    return { kind: 'key', keyId: id, role, keyHash: sha256, ...(tenant !== undefined ? { tenant } : {}) };
  }

  /**
   * Why a principal authenticated earlier may no longer act (its key revoked, replaced or expired
   * since), or null. Open streams are held to this, not only new calls.
   */
  lapsed(principal: Principal, nowMs: number): EngramError | null {
    if (principal.kind === 'insecure') return null;
    const key = this.keys.find((k) => k.entry.id === principal.keyId && k.entry.sha256 === principal.keyHash);
    if (!key) return new EngramError('CREDENTIALS_INVALID', `the API key '${principal.keyId}' was revoked; reconnect with a valid key`);
    if (key.expiresAtMs !== null && nowMs >= key.expiresAtMs) return new EngramError('CREDENTIALS_EXPIRED', `the API key '${principal.keyId}' expired at ${key.entry.expiresAt}`);
    return null;
  }
}

/** Validates a key document (`{ keys: [...] }`), naming the first thing wrong with it. */
export function parseKeyDocument(doc: unknown, source: string): KeyEntry[] {
  const fail = (what: string): never => {
    throw new EngramError('INVALID_CREDENTIALS_FILE', `${source}: ${what}`);
  };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail('expected a mapping with a "keys" list');
  const { keys, ...rest } = doc as { keys?: unknown };
  const extra = Object.keys(rest);
  if (extra.length > 0) fail(`unknown field ${quote(extra[0])} (expected only "keys")`);
  if (!Array.isArray(keys)) fail('"keys" must be a list');
  const seen = new Set<string>();
  return (keys as unknown[]).map((raw, i) => {
    const at = `keys[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail(`${at}: expected a mapping`);
    const { id, role, tenant, sha256, expiresAt, ...others } = raw as Record<string, unknown>;
    const unknownField = Object.keys(others)[0];
    if (unknownField !== undefined) fail(`${at}: unknown field ${quote(unknownField)} (id, role, tenant, sha256, expiresAt)`);
    if (typeof id !== 'string' || !KEY_ID.test(id)) fail(`${at}.id: expected 1-63 letters, digits, '.', '_' or '-', got ${quote(id)}`);
    if (seen.has(id as string)) fail(`${at}.id: '${id as string}' is listed twice`);
    seen.add(id as string);
    if (!ROLES.includes(role as Role)) fail(`${at}.role: expected one of ${ROLES.join(', ')}, got ${quote(role)}`);
    if (role === 'tenant' && (typeof tenant !== 'string' || tenant.length === 0)) fail(`${at}.tenant: a tenant key names its tenant`);
    if (role !== 'tenant' && tenant !== undefined) fail(`${at}.tenant: only a tenant key names a tenant (role is ${role as string})`);
    if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) fail(`${at}.sha256: expected the key's SHA-256 as 64 lower-case hex digits`);
    if (expiresAt !== undefined && (typeof expiresAt !== 'string' || Number.isNaN(Date.parse(expiresAt)))) {
      fail(`${at}.expiresAt: expected an ISO 8601 time, got ${quote(expiresAt)}`);
    }
    return {
      id: id as string, role: role as Role, sha256: sha256 as string,
      ...(tenant !== undefined ? { tenant: tenant as string } : {}), ...(expiresAt !== undefined ? { expiresAt: expiresAt as string } : {}),
    };
  });
}
