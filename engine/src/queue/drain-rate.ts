// The rate at which queued observations become indexed, smoothed over about a second: what a
// retry-after is computed from.

const WINDOW_MS = 1000;

export class DrainRate {
  private perSecond = 0;
  private count = 0;
  private windowStart: number;

  constructor(private readonly now: () => number) {
    this.windowStart = now();
  }

  record(indexed: number): void {
    this.count += indexed;
    this.roll();
  }

  private roll(): void {
    const now = this.now();
    const elapsed = now - this.windowStart;
    if (elapsed < WINDOW_MS) return;
    const rate = (this.count * 1000) / elapsed;
    this.perSecond = this.perSecond === 0 ? rate : 0.5 * this.perSecond + 0.5 * rate;
    this.count = 0;
    this.windowStart = now;
  }

  get observationsPerSecond(): number {
    this.roll();
    return this.perSecond;
  }
}
