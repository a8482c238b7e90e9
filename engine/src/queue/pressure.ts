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

/** Bounds of a retry-after hint: long enough not to spin, short enough not to idle a draining engine. */
export const RETRY_AFTER_BOUNDS_MS = { min: 20, max: 10_000 } as const;
/** Before the first drain rate is measured (a cold engine), a guess inside the bounds. */
const UNKNOWN_RATE_RETRY_MS = 1000;

/**
 * How long until `backlog` observations have drained at the measured drain rate, within
 * RETRY_AFTER_BOUNDS_MS. Callers pass what must drain before a resend can fit (the queue down to
 * its warning level).
 */
export function retryAfterMs(backlog: number, drainRatePerSecond: number): number {
  const { min, max } = RETRY_AFTER_BOUNDS_MS;
  if (drainRatePerSecond <= 0) return UNKNOWN_RATE_RETRY_MS;
  const ms = Math.ceil((Math.max(0, backlog) / drainRatePerSecond) * 1000);
  return Math.min(max, Math.max(min, ms));
}
