// A keyed work queue with client-go's guarantees: a key waiting is queued once however often it is
// added; a key being processed is never handed to a second worker, and if it is added meanwhile
// it is queued again when the first finishes. Delayed and rate-limited adds sit in timers.
import { ItemExponentialBackoff } from './rate-limiter.js';
import type { WorkQueueMetrics } from './controller-metrics.js';

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Map<string, number>();
  private readonly queuedAt = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private shuttingDown = false;
  private readonly gaugeTimer: NodeJS.Timeout;

  constructor(
    private readonly backoff: ItemExponentialBackoff,
    private readonly metrics: WorkQueueMetrics,
    private readonly now: () => number = Date.now,
  ) {
    this.gaugeTimer = setInterval(() => this.updateGauges(), 1000);
    this.gaugeTimer.unref();
  }

  get length(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.metrics.adds.inc();
    this.dirty.add(key);
    if (this.processing.has(key)) return; // queued again by done()
    this.push(key);
  }

  /** Adds `key` after `ms`; an earlier pending delayed add of the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = this.now() + ms;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, timer });
  }

  /** Retries `key` after its backoff (failures so far doubling the wait). */
  addRateLimited(key: string): void {
    this.metrics.retries.inc();
    this.addAfter(key, this.backoff.when(key));
  }

  forget(key: string): void {
    this.backoff.forget(key);
  }

  retries(key: string): number {
    return this.backoff.retries(key);
  }

  /** The next key, or undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) return Promise.resolve(this.take(key));
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    const started = this.processing.get(key);
    if (started !== undefined) this.metrics.workDuration.observe((this.now() - started) / 1000);
    this.processing.delete(key);
    if (this.dirty.has(key)) this.push(key);
  }

  /** Stops handing out keys; workers waiting in get() receive undefined. */
  shutDown(): void {
    this.shuttingDown = true;
    clearInterval(this.gaugeTimer);
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  private push(key: string): void {
    this.queuedAt.set(key, this.now());
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter(this.take(key));
      return;
    }
    this.queue.push(key);
    this.metrics.depth.set(this.queue.length);
  }

  private take(key: string): string {
    this.dirty.delete(key);
    this.processing.set(key, this.now());
    const queued = this.queuedAt.get(key);
    if (queued !== undefined) this.metrics.queueDuration.observe((this.now() - queued) / 1000);
    this.queuedAt.delete(key);
    this.metrics.depth.set(this.queue.length);
    return key;
  }

  private updateGauges(): void {
    const now = this.now();
    let unfinished = 0;
    let longest = 0;
    for (const started of this.processing.values()) {
      unfinished += (now - started) / 1000;
      longest = Math.max(longest, (now - started) / 1000);
    }
    this.metrics.unfinishedWork.set(unfinished);
    this.metrics.longestRunning.set(longest);
  }
}
