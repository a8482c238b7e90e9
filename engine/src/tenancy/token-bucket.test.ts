import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.js';

describe('TokenBucket', () => {
  it('starts full, refills at its rate and never exceeds its burst', () => {
    const b = new TokenBucket(100, 50, 0);
    expect(b.available(0)).toBe(50);
    expect(b.reserve(0, 50, 0)).toEqual({ taken: 50, delayMs: 0 });
    expect(b.available(0)).toBe(0);
    expect(b.waitMs(0)).toBe(10);
    expect(b.available(100)).toBe(10);
    expect(b.available(10_000)).toBe(50);
  });

  it('reserves what it earns within the delay allowed, and says how long the last of it waits', () => {
    const b = new TokenBucket(100, 50, 0);
    expect(b.reserve(0, 80, 1000)).toEqual({ taken: 80, delayMs: 300 }); // 50 now, 30 more in 300 ms
    expect(b.reserve(0, 100, 1000)).toEqual({ taken: 70, delayMs: 1000 }); // behind them: 70 fit in the second
    expect(b.reserve(0, 10, 1000)).toEqual({ taken: 0, delayMs: 1000 });
    expect(b.available(0)).toBe(0);
    expect(b.waitMs(0, 20)).toBe(1200); // the debt first, then its own
    b.giveBack(70);
    expect(b.reserve(500, 10, 0)).toEqual({ taken: 10, delayMs: 0 }); // 300 ms of debt paid by 500 ms
  });

  it('says how long until a given number of tokens is there, at most a full bucket', () => {
    const b = new TokenBucket(100, 50, 0);
    b.reserve(0, 50, 0);
    expect(b.waitMs(0, 20)).toBe(200);
    expect(b.waitMs(0, 1000)).toBe(500);
  });

  it('keeps earned tokens when reconfigured, capped at the new burst', () => {
    const b = new TokenBucket(100, 100, 0);
    b.reconfigure(10, 20);
    expect(b.available(0)).toBe(20);
    b.reserve(0, 20, 0);
    expect(b.available(1000)).toBe(10);
  });
});
