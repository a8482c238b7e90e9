import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.js';

describe('TokenBucket', () => {
  it('starts full, refills at its rate and never exceeds its burst', () => {
    const b = new TokenBucket(100, 50, 0);
    expect(b.available(0)).toBe(50);
    b.take(50);
    expect(b.available(0)).toBe(0);
    expect(b.waitMs(0)).toBe(10);
    expect(b.available(100)).toBe(10);
    expect(b.available(10_000)).toBe(50);
  });

  it('says how long until a given number of tokens is there, at most a full bucket', () => {
    const b = new TokenBucket(100, 50, 0);
    b.take(50);
    expect(b.waitMs(0, 20)).toBe(200);
    expect(b.waitMs(0, 1000)).toBe(500);
  });

  it('keeps earned tokens when reconfigured, capped at the new burst', () => {
    const b = new TokenBucket(100, 100, 0);
    b.reconfigure(10, 20);
    expect(b.available(0)).toBe(20);
    b.take(20);
    expect(b.available(1000)).toBe(10);
  });
});
