// Property-based: a key document of any shape is either a list of keys or refused with
// INVALID_CREDENTIALS_FILE in a short message; any authorization header is a key or refused.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EngramError } from '../errors.js';
import { CredentialSet, hashKey, parseBearer, parseKeyDocument } from './credentials.js';

const entry = fc.record({
  id: fc.oneof(fc.string({ maxLength: 70 }), fc.constantFrom('ops', 'a.b-c_d', '__proto__')),
  role: fc.oneof(fc.constantFrom('admin', 'tenant', 'metrics', 'root', 'toString'), fc.jsonValue({ maxDepth: 0 })),
  tenant: fc.oneof(fc.string({ maxLength: 10 }), fc.integer()),
  sha256: fc.oneof(fc.constant(hashKey('k')), fc.string({ maxLength: 70 }), fc.stringMatching(/^[0-9a-f]{64}$/)),
  expiresAt: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string({ maxLength: 30 })),
}, { requiredKeys: [] });
const doc = fc.oneof(fc.record({ keys: fc.array(fc.oneof(entry, fc.jsonValue({ maxDepth: 2 })), { maxLength: 6 }) }), fc.jsonValue({ maxDepth: 3 }));

describe('key documents and headers under arbitrary input', () => {
  it('parses a document into keys that authenticate, or refuses it with a short message', () => {
    fc.assert(fc.property(doc, (d) => {
      try {
        const keys = parseKeyDocument(d, 'keys.yaml');
        const set = new CredentialSet(keys);
        expect(set.size).toBe(keys.length);
        for (const k of keys) expect(k.sha256).toMatch(/^[0-9a-f]{64}$/);
      } catch (e) {
        expect(e).toBeInstanceOf(EngramError);
        expect((e as EngramError).code).toBe('INVALID_CREDENTIALS_FILE');
        expect((e as EngramError).message.length).toBeLessThanOrEqual(300);
      }
    }), { numRuns: 3000 });
  });

  it('reads any header as a key or refuses it, never echoing it', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ maxLength: 20 }).map((s) => `Bearer ${s}`)), (header) => {
      try {
        const token = parseBearer(header);
        expect(token === null || header.includes(token)).toBe(true);
      } catch (e) {
        expect((e as EngramError).code).toBe('CREDENTIALS_INVALID');
        if (header.length > 8) expect((e as EngramError).message).not.toContain(header);
      }
    }), { numRuns: 3000 });
  });
});
