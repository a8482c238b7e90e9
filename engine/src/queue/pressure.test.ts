import { describe, expect, it } from 'vitest';
import { MIN_STREAM_WINDOW, PressureLevel, pressureLevel, retryAfterMs, streamWindow } from './pressure.js';

describe('pressureLevel', () => {
  it.each([
    [0, PressureLevel.NORMAL], [0.49, PressureLevel.NORMAL], [0.5, PressureLevel.WARNING], [0.79, PressureLevel.WARNING],
    [0.8, PressureLevel.CRITICAL], [0.94, PressureLevel.CRITICAL], [0.95, PressureLevel.OVERLOADED], [1.2, PressureLevel.OVERLOADED],
  ])('maps pressure %f to level %i', (pressure, level) => {
    expect(pressureLevel(pressure)).toBe(level);
  });
});

describe('retryAfterMs', () => {
  it('is the time to drain the backlog at the measured rate', () => {
    expect(retryAfterMs(5_000, 5_000)).toBe(1000);
  });
  it('is at most 10 s, whatever the rate', () => {
    expect(retryAfterMs(10_000_000, 1)).toBe(10_000);
  });
  it('is at least 20 ms, so a client never spins', () => {
    expect(retryAfterMs(1, 100_000)).toBe(20);
    expect(retryAfterMs(-50, 100)).toBe(20);
  });
  it('falls back to one second before any rate is measured', () => {
    expect(retryAfterMs(100, 0)).toBe(1000);
  });
});

describe('streamWindow', () => {
  it('gives each stream an equal share of half the queue', () => {
    expect(streamWindow(1000, 1)).toBe(500);
    expect(streamWindow(1000, 8)).toBe(62);
  });
  it('keeps every window together below the warning level, whatever the count', () => {
    for (const streams of [1, 2, 3, 7, 10, 50]) expect(streamWindow(1000, streams) * streams).toBeLessThan(1000 * 0.5 + 1);
  });
  it('never goes below its floor, even with more streams than slots', () => {
    expect(streamWindow(100, 1000)).toBe(MIN_STREAM_WINDOW);
  });
  it('treats no streams as one', () => {
    expect(streamWindow(1000, 0)).toBe(500);
  });
});
