// The rate at which queued observations become indexed, smoothed over about a second: what a
// retry-after is computed from. Only time with work counts: a window that began while the engine
// sat idle would divide the first batches by the idle time and report a rate near zero (a cold
// engine once told clients to wait 300 s for a queue that drained in 15).

const WINDOW_MS = 1000;

export class DrainRate {
  private perSecond = 0;
  private count = 0;
  private windowStart: number;
  private lastRecord: number;

  constructor(private readonly now: () => number) {
    this.windowStart = now();
    this.lastRecord = -Infinity;
  }

  record(indexed: number): void {
    const now = this.now();
    // Idle for a whole window since the last batch: start measuring at this one.
    if (now - this.lastRecord > WINDOW_MS) {
      this.windowStart = now;
      this.count = 0;
    }
    this.lastRecord = now;
    this.count += indexed;
    const elapsed = now - this.windowStart;
    if (elapsed < WINDOW_MS) return;
    const rate = (this.count * 1000) / elapsed;
    this.perSecond = this.perSecond === 0 ? rate : 0.5 * this.perSecond + 0.5 * rate;
    this.count = 0;
    this.windowStart = now;
  }

  /** Observations indexed per second while there was work; 0 until a first window is measured. */
  get observationsPerSecond(): number {
    return this.perSecond;
  }
}
