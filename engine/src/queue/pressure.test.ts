import { describe, expect, it } from 'vitest';
import { PressureLevel, pressureLevel, retryAfterMs } from './pressure.js';

describe('pressureLevel', () => {
  it.each([
    [0, PressureLevel.NORMAL], [0.49, PressureLevel.NORMAL], [0.5, PressureLevel.WARNING], [0.79, PressureLevel.WARNING],
    [0.8, PressureLevel.CRITICAL], [0.94, PressureLevel.CRITICAL], [0.95, PressureLevel.OVERLOADED], [1.2, PressureLevel.OVERLOADED],
  ])('maps pressure %f to level %i', (pressure, level) => {
    expect(pressureLevel(pressure)).toBe(level);
  });
});

describe('retryAfterMs', () => {
  it('is the time to drain half the queue at the current rate', () => {
    expect(retryAfterMs(10_000, 5_000)).toBe(1000);
  });
  it('is capped at 300 s', () => {
    expect(retryAfterMs(10_000_000, 1)).toBe(300_000);
  });
  it('falls back to one second when nothing has drained yet', () => {
    expect(retryAfterMs(100, 0)).toBe(1000);
  });
  it('is zero for an empty queue', () => {
    expect(retryAfterMs(0, 100)).toBe(0);
  });
});
