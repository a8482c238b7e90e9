// A token bucket: `rate` tokens a second, holding at most `burst`. It may also be drawn into debt,
// up to what it earns in a bounded time: tokens promised to observations that wait for them (the
// generic cell rate algorithm's shaping). Time comes from the caller so tests and the engine share
// one clock.

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private rate: number, private burst: number, nowMs: number) {
    this.tokens = burst;
    this.last = nowMs;
  }

  /** Changes the limit live, keeping the tokens already earned (capped at the new burst) and any debt. */
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

  /** Whole tokens available now (none while in debt). */
  available(nowMs: number): number {
    this.refill(nowMs);
    return Math.max(0, Math.floor(this.tokens));
  }

  /**
   * Takes tokens for as many of `count` as are earned within `maxDelayMs` (tokens already promised
   * come first), and says how long until the last of them is earned: they wait that long.
   */
  reserve(nowMs: number, count: number, maxDelayMs: number): { taken: number; delayMs: number } {
    this.refill(nowMs);
    const taken = Math.max(0, Math.min(count, Math.floor(this.tokens + (this.rate * maxDelayMs) / 1000)));
    this.tokens -= taken;
    return { taken, delayMs: this.tokens < 0 ? Math.ceil((-this.tokens / this.rate) * 1000) : 0 };
  }

  /** Gives back tokens reserved for observations that were not accepted after all. */
  giveBack(count: number): void {
    this.tokens = Math.min(this.burst, this.tokens + count);
  }

  /** Milliseconds the bucket takes to earn `count` tokens. */
  msToEarn(count: number): number {
    return this.rate > 0 ? (count / this.rate) * 1000 : 0;
  }

  /** Milliseconds until `count` tokens (at most a full bucket) are available, after any debt is paid. */
  waitMs(nowMs: number, count = 1): number {
    this.refill(nowMs);
    const wanted = Math.min(Math.max(1, count), this.burst);
    if (this.tokens >= wanted || this.rate <= 0) return 0;
    return Math.ceil(((wanted - this.tokens) / this.rate) * 1000);
  }
}
