// A token bucket: `rate` tokens a second, holding at most `burst`. Time comes from the caller so
// tests and the engine share one clock.

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private rate: number, private burst: number, nowMs: number) {
    this.tokens = burst;
    this.last = nowMs;
  }

  /** Changes the limit live, keeping the tokens already earned (capped at the new burst). */
  reconfigure(rate: number, burst: number): void {
    this.rate = rate;
    this.burst = burst;
    this.tokens = Math.min(this.tokens, burst);
  }

  private refill(nowMs: number): void {
    const elapsed = Math.max(0, nowMs - this.last) / 1000;
    this.tokens = Math.min(this.burst, this.tokens + elapsed * this.rate);
    this.last = nowMs;
  }

  /** Whole tokens available now. */
  available(nowMs: number): number {
    this.refill(nowMs);
    return Math.floor(this.tokens);
  }

  take(count: number): void {
    this.tokens -= count;
  }

  /** Milliseconds the bucket takes to earn `count` tokens. */
  msToEarn(count: number): number {
    return this.rate > 0 ? (count / this.rate) * 1000 : 0;
  }

  /** Milliseconds until `count` tokens (at most a full bucket) are available. */
  waitMs(nowMs: number, count = 1): number {
    this.refill(nowMs);
    const wanted = Math.min(Math.max(1, count), this.burst);
    if (this.tokens >= wanted || this.rate <= 0) return 0;
    return Math.ceil(((wanted - this.tokens) / this.rate) * 1000);
  }
}
