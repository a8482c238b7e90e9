// Backpressure levels by queue pressure (depth / capacity), and the retry-after a client is told.

export const PressureLevel = { NORMAL: 0, WARNING: 1, CRITICAL: 2, OVERLOADED: 3 } as const;
export type PressureLevel = (typeof PressureLevel)[keyof typeof PressureLevel];

export const LEVEL_NAMES = ['normal', 'warning', 'critical', 'overloaded'] as const;

export function pressureLevel(pressure: number): PressureLevel {
  if (pressure < 0.5) return PressureLevel.NORMAL;
  if (pressure < 0.8) return PressureLevel.WARNING;
  if (pressure < 0.95) return PressureLevel.CRITICAL;
  return PressureLevel.OVERLOADED;
}

const MAX_RETRY_AFTER_MS = 300_000;
const UNKNOWN_RATE_RETRY_MS = 1000;

/** The time to drain half the queue at the current drain rate, capped at 300 s. */
export function retryAfterMs(depth: number, drainRatePerSecond: number): number {
  if (depth <= 0) return 0;
  if (drainRatePerSecond <= 0) return UNKNOWN_RATE_RETRY_MS;
  return Math.min(MAX_RETRY_AFTER_MS, Math.ceil(((depth / 2) / drainRatePerSecond) * 1000));
}
