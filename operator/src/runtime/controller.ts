// A controller: keys come in through a work queue, `concurrency` workers reconcile them. The
// outcome of a reconcile decides what happens to its key, as in controller-runtime: success forgets
// the key's failures; an explicit requeueAfter comes back then; an error is retried with the key's
// backoff, except a TerminalError, which is recorded and left until the object changes.
import type { ControllerMetrics } from './controller-metrics.js';
import type { Logger } from '@engram/engine/log';
import { ItemExponentialBackoff, type RateLimiterOptions } from './rate-limiter.js';
import { WorkQueue } from './work-queue.js';

export interface ReconcileResult {
  /** Reconcile this key again after this long (also on success). */
  requeueAfterMs?: number;
}

export type Reconciler = (key: string, signal: AbortSignal) => Promise<ReconcileResult>;

/** An error retrying cannot fix; the key waits for its object to change. */
export class TerminalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

export interface ControllerOptions {
  name: string;
  concurrency: number;
  backoff?: RateLimiterOptions;
}

export class Controller {
  readonly queue: WorkQueue;
  private workers: Array<Promise<void>> = [];
  private readonly abort = new AbortController();

  constructor(
    private readonly options: ControllerOptions,
    private readonly reconciler: Reconciler,
    private readonly metrics: ControllerMetrics,
    private readonly log: Logger,
  ) {
    this.queue = new WorkQueue(new ItemExponentialBackoff(options.backoff), metrics.forQueue(options.name));
  }

  start(): void {
    const controller = this.options.name;
    this.metrics.reconcile.maxConcurrent.labels({ controller }).set(this.options.concurrency);
    // As controller-runtime does: every result and the error count exist at 0 from the start, so
    // rate() and increase() see the first error (alerts are built on them).
    for (const result of ['success', 'error', 'requeue_after']) this.metrics.reconcile.total.labels({ controller, result }).inc(0);
    this.metrics.reconcile.errors.labels({ controller }).inc(0);
    for (let i = 0; i < this.options.concurrency; i++) this.workers.push(this.work());
  }

  private async work(): Promise<void> {
    const controller = this.options.name;
    for (let key = await this.queue.get(); key !== undefined; key = await this.queue.get()) {
      this.metrics.reconcile.activeWorkers.labels({ controller }).inc();
      const stopTimer = this.metrics.reconcile.time.labels({ controller }).startTimer();
      try {
        const result = await this.reconciler(key, this.abort.signal);
        this.queue.forget(key);
        if (result.requeueAfterMs !== undefined) {
          this.metrics.reconcile.total.labels({ controller, result: 'requeue_after' }).inc();
          this.queue.addAfter(key, result.requeueAfterMs);
        } else {
          this.metrics.reconcile.total.labels({ controller, result: 'success' }).inc();
        }
      } catch (e) {
        this.metrics.reconcile.total.labels({ controller, result: 'error' }).inc();
        this.metrics.reconcile.errors.labels({ controller }).inc();
        if (e instanceof TerminalError) {
          this.queue.forget(key);
          this.log.error('reconcile failed for good', { controller, key, error: e.message });
        } else {
          this.log.warn('reconcile failed; retrying with backoff', { controller, key, retries: this.queue.retries(key), error: e instanceof Error ? e.message : String(e) });
          this.queue.addRateLimited(key);
        }
      } finally {
        stopTimer();
        this.metrics.reconcile.activeWorkers.labels({ controller }).dec();
        this.queue.done(key);
      }
    }
  }

  /** Stops taking keys, signals reconciles in flight, and waits for them (at most `deadlineMs`). */
  async stop(deadlineMs: number): Promise<void> {
    this.queue.shutDown();
    this.abort.abort();
    await Promise.race([Promise.all(this.workers), new Promise((r) => setTimeout(r, deadlineMs).unref())]);
  }
}
