// Property-based: any JSON patch, against any profile, is either a valid config or refused with
// INVALID_CONFIG in a message of bounded size; never a crash (TypeError) or a hang. Patches are
// built from the config's own keys as well as arbitrary ones, so they reach the deep checks.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EngramError } from '../errors.js';
import { CONFIG_FIELDS } from './config-schema.js';
import { applyConfigPatch, resolveStartConfig } from './validate-config.js';

/** What a refusal may say at most: it travels as gRPC status details and in CR status conditions. */
const MAX_MESSAGE = 4096;

const value = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.string({ maxLength: 20 }), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }));
const leaf = (path: string) => fc.tuple(fc.constant(path), fc.oneof(value, fc.jsonValue({ maxDepth: 2 })));
const knownPaths = Object.keys(CONFIG_FIELDS);
/** Names every object inherits: a lookup by a client's key must not find them. */
const inherited = fc.constantFrom('__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty');
const tenant = fc.record({
  name: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('acme', 'globex')),
  spaces: fc.array(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('acme-*', 'x')), { maxLength: 3 }),
  rateLimit: fc.oneof(fc.integer(), fc.double()), maxVectors: fc.integer(),
}, { requiredKeys: [] });

/** `a.b.c` → { a: { b: { c: v } } } */
function nest(entries: Array<[string, unknown]>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [path, v] of entries) {
    const keys = path.split('.');
    let node = out;
    for (const k of keys.slice(0, -1)) {
      if (!Object.hasOwn(node, k) || typeof node[k] !== 'object' || node[k] === null || Array.isArray(node[k])) {
        Object.defineProperty(node, k, { value: {}, enumerable: true, writable: true, configurable: true });
      }
      node = node[k] as Record<string, unknown>;
    }
    Object.defineProperty(node, keys.at(-1)!, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

const patch = fc.oneof(
  fc.array(fc.oneof(fc.constantFrom(...knownPaths).chain(leaf), fc.string({ maxLength: 10 }).chain(leaf), inherited.chain(leaf),
    fc.tuple(fc.constantFrom('hnsw', 'batch', 'queue'), inherited).map(([a, b]) => `${a}.${b}`).chain(leaf)), { maxLength: 8 }).map(nest),
  fc.record({ tenants: fc.array(fc.oneof(tenant, fc.jsonValue({ maxDepth: 1 })), { maxLength: 4 }) }),
  fc.record({ profile: fc.oneof(fc.constantFrom('balanced', 'Balanced', 'high-throughput', 'turbo', '__proto__', 'constructor', 'toString'), fc.string({ maxLength: 10 })) }),
  fc.jsonValue({ maxDepth: 3 }),
);

function leafPaths(value: object, prefix = ''): string[] {
  return Object.entries(value).flatMap(([k, v]) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? leafPaths(v as object, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

function outcome(work: () => unknown): 'ok' | 'refused' {
  try {
    work();
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(EngramError);
    expect((e as EngramError).code).toBe('INVALID_CONFIG');
    expect((e as EngramError).message.length).toBeLessThanOrEqual(MAX_MESSAGE);
    return 'refused';
  }
}

describe('config validation under arbitrary patches', () => {
  const base = resolveStartConfig();

  it('accepts a patch or refuses it with INVALID_CONFIG in a bounded message; an accepted config validates again unchanged', () => {
    fc.assert(fc.property(patch, (p) => {
      let merged: ReturnType<typeof applyConfigPatch> | null = null;
      if (outcome(() => (merged = applyConfigPatch(base, p))) === 'ok') {
        // nothing outside the schema gets in
        expect(leafPaths(merged!).filter((path) => !knownPaths.includes(path) && !path.startsWith('tenants'))).toEqual([]);
        // what was accepted is itself a valid patch that changes nothing
        expect(applyConfigPatch(merged!, structuredClone(merged!) as unknown as Record<string, unknown>)).toEqual(merged);
      }
      if (typeof p === 'object' && p !== null && !Array.isArray(p)) outcome(() => resolveStartConfig(p as Record<string, unknown>));
    }), { numRuns: 3000 });
  });

  it('keeps the message bounded however many problems a patch has', () => {
    const many = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`unknown${i}`, i]));
    expect(outcome(() => applyConfigPatch(base, many))).toBe('refused');
    const long = 'k'.repeat(100_000);
    expect(outcome(() => applyConfigPatch(base, { [long]: 1, workers: long, tenants: [{ name: long, spaces: [long] }], hnsw: { [long]: long } }))).toBe('refused');
  });
});
