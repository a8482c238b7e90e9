// Property-based: whatever a client puts in an observation, decoding neither throws nor hangs; it
// accepts exactly the vectors of the right size with finite values and says why it refuses the
// rest in a message of bounded size.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Observation__Output } from '../generated/engram/v1/Observation.js';
import { decodeObservation, OBSERVATION_LIMITS } from './decode-observation.js';

const DIMENSION = 8;
const MAX_REASON = 200;

const floats = fc.array(fc.float({ noDefaultInfinity: false, noNaN: false }), { minLength: 0, maxLength: 12 });
const embedding = fc.oneof(
  floats.map((v) => Buffer.from(new Float32Array(v).buffer)),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
);
const text = (max: number) => fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: max }));
const observation: fc.Arbitrary<Observation__Output> = fc.record({
  id: fc.oneof(text(300), fc.constant('x'.repeat(OBSERVATION_LIMITS.idBytes + 1))),
  embedding,
  content: fc.oneof(text(100), fc.constant('é'.repeat(OBSERVATION_LIMITS.contentBytes))),
  metadata: fc.dictionary(text(300), text(50), { maxKeys: 70 }),
  timestampMs: fc.constant(0),
  sequence: fc.constant(0),
});

describe('decodeObservation under arbitrary input', () => {
  it.each(['l2', 'cosine'] as const)('never throws, accepts only %s-comparable vectors of the dimension, and explains each refusal briefly', (metric) => {
    fc.assert(fc.property(observation, (o) => {
      const decoded = decodeObservation(o, { dimension: DIMENSION, metric });
      if (decoded.ok) {
        expect(decoded.vector).toHaveLength(DIMENSION);
        expect([...decoded.vector].every(Number.isFinite)).toBe(true);
        expect(decoded.id).toBe(o.id);
      } else {
        expect(decoded.reason.length).toBeGreaterThan(0);
        expect(decoded.reason.length).toBeLessThanOrEqual(MAX_REASON);
      }
    }), { numRuns: 2000 });
  });

  it('accepts every well-formed observation', () => {
    const good = fc.record({
      id: fc.string({ minLength: 1, maxLength: 60 }),
      embedding: fc.array(fc.float({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true }), { minLength: DIMENSION, maxLength: DIMENSION })
        .filter((v) => v.some((x) => x !== 0))
        .map((v) => Buffer.from(new Float32Array(v).buffer)),
      content: fc.string({ maxLength: 200 }),
      metadata: fc.dictionary(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), { maxKeys: 8 }),
      timestampMs: fc.constant(0),
      sequence: fc.constant(0),
    });
    fc.assert(fc.property(good, (o) => {
      const decoded = decodeObservation(o, { dimension: DIMENSION, metric: 'cosine' });
      expect(decoded).toMatchObject({ ok: true });
    }), { numRuns: 500 });
  });
});
