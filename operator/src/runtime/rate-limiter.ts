// Per-item exponential backoff, as client-go's ItemExponentialFailureRateLimiter: the n-th
// consecutive failure of a key waits base·2ⁿ, capped; success forgets the key.

export interface RateLimiterOptions {
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RATE_LIMITER: Readonly<RateLimiterOptions> = { baseDelayMs: 200, maxDelayMs: 5 * 60_000 };

export class ItemExponentialBackoff {
  private readonly failures = new Map<string, number>();

  constructor(private readonly options: RateLimiterOptions = DEFAULT_RATE_LIMITER) {}

  /** Records a failure of `key` and returns how long to wait before trying it again. */
  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** Math.min(n, 30));
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }
}
