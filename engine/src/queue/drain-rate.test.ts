import { describe, expect, it } from 'vitest';
import { DrainRate } from './drain-rate.js';

describe('DrainRate', () => {
  it('measures the rate while there is work, not the idle time before it', () => {
    let now = 0;
    const rate = new DrainRate(() => now);
    now = 60_000; // a minute idle after start
    for (let t = 0; t <= 1000; t += 100) {
      now = 60_000 + t;
      rate.record(500);
    }
    // 5,500 observations over one second of work: about 5,000/s, not 5,500 / 61 s
    expect(rate.observationsPerSecond).toBeGreaterThan(4000);
  });

  it('keeps the last measured rate through an idle spell', () => {
    let now = 0;
    const rate = new DrainRate(() => now);
    for (let t = 0; t <= 1000; t += 100) {
      now = t;
      rate.record(100);
    }
    const measured = rate.observationsPerSecond;
    now = 30_000;
    expect(rate.observationsPerSecond).toBe(measured);
  });

  it('is 0 until a first window is measured', () => {
    let now = 0;
    const rate = new DrainRate(() => now);
    rate.record(100);
    now = 500;
    rate.record(100);
    expect(rate.observationsPerSecond).toBe(0);
  });
});
