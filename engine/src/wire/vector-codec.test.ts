import { describe, expect, it } from 'vitest';
import { isEngramError } from '../errors.js';
import { decodeVector, encodeVector } from './vector-codec.js';

describe('vector codec', () => {
  it('round-trips float32 values through little-endian bytes', () => {
    const v = new Float32Array([1.5, -2, 3.25, 0]);
    const bytes = Buffer.from(encodeVector(v));
    expect(Array.from(decodeVector(bytes, 4))).toEqual([1.5, -2, 3.25, 0]);
  });

  it.each([
    ['a wrong dimension', encodeVector([1, 2, 3]), /has 3 dimensions; this engine expects 4/],
    ['a length that is not whole floats', new Uint8Array(15), /15 bytes \(not a multiple of 4\)/],
    ['NaN', encodeVector([1, Number.NaN, 0, 0]), /value 1 is NaN/],
    ['infinity', encodeVector([1, 0, Number.POSITIVE_INFINITY, 0]), /value 2 is Infinity/],
  ])('refuses %s with a message naming it', (_name, bytes, message) => {
    let error: unknown;
    try {
      decodeVector(bytes, 4);
    } catch (e) {
      error = e;
    }
    expect(isEngramError(error, 'INVALID_VECTOR')).toBe(true);
    expect((error as Error).message).toMatch(message);
  });
});
