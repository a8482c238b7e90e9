// The main thread's handle on one worker thread: its message port, what it has in flight, and the
// replies it owes (recalls, space exports and imports), each a promise keyed by what it answers.
import { MessageChannel, Worker, type MessagePort, type Transferable } from 'node:worker_threads';
import type { HnswConfig } from '../config/engine-config.js';
import { EngramError } from '../errors.js';
import type { FromWorker, ToWorker, WorkerData } from './messages.js';

/** Nice value of worker threads (0-19); ENGRAM_WORKER_NICE=0 turns it off. */
const WORKER_NICE = Number(process.env.ENGRAM_WORKER_NICE ?? 10);
/**
 * A worker's JS heap holds ids and contents, and each batch's messages for a moment: V8's default
 * young generation (grown to tens of MiB under a steady stream of batches) is resident memory that
 * indexes could use. With 4 MiB the V8 heaps of a memory-constrained engine grew 23 MiB instead of
 * 41 while it filled, it held 81,242 vectors under 512 MiB instead of 76,531, and it indexed as
 * fast (npm run bench:memory, one run each).
 */
const WORKER_YOUNG_GENERATION_MB = 4;

type BatchDone = Extract<FromWorker, { type: 'batchDone' }>;
type RecallQuality = Extract<FromWorker, { type: 'recallQuality' }>;

interface Waiter {
  resolve(message: FromWorker): void;
  reject(error: Error): void;
}

export class WorkerSlot {
  readonly thread: Worker;
  private readonly port: MessagePort;
  private readonly waiters = new Map<string, Waiter>();
  readonly ready: Promise<void>;
  /** Batches posted and not yet done, in total and per space. */
  inFlight = 0;
  readonly inFlightBySpace = new Map<string, number>();
  /** Milliseconds spent indexing, recalling or moving indexes (for utilisation). */
  busyMs = 0;
  batches = 0;
  indexed = 0;
  stolen = 0;
  retiring = false;
  failure: Error | null = null;
  private exited = false;

  constructor(
    readonly id: number,
    hnsw: HnswConfig,
    script: URL,
    private readonly onBatchDone: (slot: WorkerSlot, message: BatchDone) => void,
    private readonly onFailure: (slot: WorkerSlot, error: Error) => void,
    private readonly onRecallQuality: (message: RecallQuality) => void,
  ) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const workerData: WorkerData = { port: port2, hnsw, nice: WORKER_NICE };
    this.thread = new Worker(script, { workerData, transferList: [port2], resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
    this.ready = new Promise((resolve, reject) => {
      this.waiters.set('ready', { resolve: () => resolve(), reject });
    });
    this.port.on('message', (message: FromWorker) => this.receive(message));
    this.thread.on('error', (e) => this.fail(e));
    this.thread.on('exit', (code) => {
      this.exited = true;
      if (!this.retiring) this.fail(new Error(`worker ${id} exited with code ${code}`));
    });
  }

  post(message: ToWorker, transfer: Transferable[] = []): void {
    this.port.postMessage(message, transfer);
  }

  /** Posts a message and waits for the reply registered under `key`. */
  request(key: string, message: ToWorker, transfer: Transferable[] = []): Promise<FromWorker> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiters.set(key, { resolve, reject });
      this.post(message, transfer);
    });
  }

  /** Forgets a reply nobody waits for any more (a cancelled recall). */
  forget(key: string): void {
    this.waiters.delete(key);
  }

  get pendingReplies(): number {
    return this.waiters.size;
  }

  private settle(key: string, message: FromWorker): void {
    const waiter = this.waiters.get(key);
    this.waiters.delete(key);
    waiter?.resolve(message);
  }

  private receive(message: FromWorker): void {
    switch (message.type) {
      case 'ready': return this.settle('ready', message);
      case 'batchDone':
        this.busyMs += message.busyMs;
        return this.onBatchDone(this, message);
      case 'recallDone':
      case 'recallFailed':
        if (message.type === 'recallDone') this.busyMs += message.busyMs;
        return this.settle(`recall:${message.requestId}`, message);
      case 'recallQuality':
        this.busyMs += message.busyMs;
        return this.onRecallQuality(message);
      case 'exported':
        this.busyMs += message.busyMs;
        return this.settle(`export:${message.space}`, message);
      case 'imported':
        this.busyMs += message.busyMs;
        return this.settle(`import:${message.space}`, message);
      case 'moveFailed':
        return this.settle(`${message.step}:${message.space}`, message);
      case 'report':
        this.busyMs += message.busyMs;
        return this.settle(message.key, message);
      case 'requestFailed':
      case 'fetched':
      case 'digested':
        return this.settle(message.key, message);
    }
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = new EngramError('WORKER_FAILED', `worker ${this.id} failed: ${error.message}`, { cause: error });
    for (const waiter of this.waiters.values()) waiter.reject(this.failure);
    this.waiters.clear();
    this.onFailure(this, this.failure);
  }

  /**
   * Stops the thread: asks it to exit between two inserts (terminating it inside hnswlib's native
   * code would abort the process), and terminates it only if it has not exited within `graceMs`.
   */
  async terminate(graceMs = 5000): Promise<void> {
    this.retiring = true;
    if (this.exited) return this.port.close();
    const exited = new Promise<void>((resolve) => this.thread.once('exit', () => resolve()));
    this.post({ type: 'exit' });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), graceMs);
    });
    if (await Promise.race([exited.then(() => false), late])) await this.thread.terminate();
    clearTimeout(timer);
    this.port.close();
  }

  /** Failure drill: the thread throws at its next safe point, as a bug would. */
  crash(): void {
    this.post({ type: 'crash' });
  }
}
