// An order-independent checksum of a set of ids: the sum, modulo 2^64, of the first 8 bytes of
// each id's SHA-256. Two copies of a memory space hold the same ids exactly when their counts and
// checksums agree (up to a 2^-64 chance), however differently their indexes were built.
import { createHash } from 'node:crypto';

export interface IdDigest {
  count: number;
  /** 16 hex digits. */
  checksum: string;
}

const MASK = (1n << 64n) - 1n;

export function digestIds(ids: Iterable<string>): IdDigest {
  let sum = 0n;
  let count = 0;
  for (const id of ids) {
    sum = (sum + createHash('sha256').update(id).digest().readBigUInt64BE(0)) & MASK;
    count++;
  }
  return { count, checksum: sum.toString(16).padStart(16, '0') };
}

/** The checksum of the union of disjoint id sets, from theirs (a sum adds). */
export function addChecksums(checksums: string[]): string {
  let sum = 0n;
  for (const c of checksums) sum = (sum + BigInt(`0x${c}`)) & MASK;
  return sum.toString(16).padStart(16, '0');
}
