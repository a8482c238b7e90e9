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

/** Share of the queue the streams' windows add up to: at most this full, the queue stays NORMAL. */
export const WINDOW_SHARE = 0.5;
/** A window never goes below this, however many streams share the queue. */
export const MIN_STREAM_WINDOW = 8;

/**
 * How many observations one stream may have in the engine at once (sent and not yet indexed) when
 * `streams` share a queue of `capacity`: an equal share of half the queue. A client that keeps to
 * it is never refused for a full queue, so a small queue does not spend its CPU decoding and
 * refusing resends (before windows, 24K refusals for 16K accepted with 1,000 slots).
 */
export function streamWindow(capacity: number, streams: number): number {
  return Math.max(MIN_STREAM_WINDOW, Math.floor((capacity * WINDOW_SHARE) / Math.max(1, streams)));
}
