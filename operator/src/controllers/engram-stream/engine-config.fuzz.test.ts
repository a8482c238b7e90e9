// Property-based: whatever a custom resource's spec holds (the API server's schema checks what it
// can; a spec may also come from an older CRD or a hand-written object), its translation to an
// engine config is either a config the engine accepts as it is, or the engine's INVALID_CONFIG
// with a bounded message: never a crash of the reconciler.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyConfigPatch, configHash } from '@engram/engine/config';
import type { EngramStreamSpec } from '../../api/v1alpha1/types.js';
import { calculateEngineConfig } from './engine-config.js';

const number = fc.oneof(fc.integer({ min: -5, max: 5000 }), fc.double(), fc.constantFrom(0, 1, 16, 64, 768));
const spec = fc.record({
  profile: fc.oneof(fc.constantFrom('Balanced', 'HighThroughput', 'LowLatency', 'MultiTenant', 'Memory', 'balanced'), fc.string({ maxLength: 12 })),
  workers: number,
  batch: fc.record({ min: number, max: number, target: number }, { requiredKeys: [] }),
  queue: fc.record({ capacity: number, highWatermark: number, lowWatermark: number }, { requiredKeys: [] }),
  hnsw: fc.record({ dimension: number, m: number, efConstruction: number, efSearch: number, metric: fc.constantFrom('cosine', 'l2', 'ip', 'manhattan') }, { requiredKeys: [] }),
  tenants: fc.array(fc.record({ name: fc.string({ maxLength: 10 }), spaces: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }), rateLimit: number, maxVectors: number }, { requiredKeys: [] }), { maxLength: 3 }),
  quality: fc.record({ sampleRate: number }, { requiredKeys: [] }),
  idleSleepMs: number,
  extra: fc.jsonValue({ maxDepth: 2 }),
}, { requiredKeys: [] }).map((s) => s as unknown as EngramStreamSpec);

describe('spec → engine config under arbitrary specs', () => {
  it('gives a config the engine accepts unchanged, with a stable hash, or INVALID_CONFIG in a bounded message', () => {
    fc.assert(fc.property(spec, (s) => {
      let desired: ReturnType<typeof calculateEngineConfig>;
      try {
        desired = calculateEngineConfig(s);
      } catch (e) {
        expect((e as { code?: string }).code).toBe('INVALID_CONFIG');
        expect((e as Error).message.length).toBeLessThanOrEqual(4096);
        return;
      }
      expect(applyConfigPatch(desired.config, structuredClone(desired.config) as unknown as Record<string, unknown>)).toEqual(desired.config);
      expect(calculateEngineConfig(structuredClone(s)).hash).toBe(desired.hash);
      expect(configHash(desired.config)).toBe(desired.hash);
    }), { numRuns: 2000 });
  });
});
