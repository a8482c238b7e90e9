// The main thread's handle on one worker thread: its message port, what it has in flight, and the
// replies it owes, each a promise under the key its request carried (see worker/messages.ts).
import { MessageChannel, Worker, type MessagePort, type Transferable } from 'node:worker_threads';
import type { HnswConfig } from '../config/engine-config.js';
import { EngramError } from '../errors.js';
import type { IdleBoard } from '../worker/idle-board.js';
import type { FromWorker, ToWorker, WorkerData } from '../worker/messages.js';
import { KeyedCount } from './keyed-count.js';

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
/** A message to a worker that it answers with a reply carrying the same key. */
export type WorkerRequest = Extract<ToWorker, { key: string }>;

interface Waiter {
  resolve(message: FromWorker): void;
  reject(error: Error): void;
}

export class WorkerSlot {
  readonly thread: Worker;
  private readonly port: MessagePort;
  private readonly waiters = new Map<string, Waiter>();
  readonly ready: Promise<void>;
  /** Batches posted and not yet done, in total and per index (see batchPosted, batchSettled). */
  private batchesInFlight = 0;
  private readonly inFlightByIndex = new KeyedCount();
  /** Who waits for the worker to owe nothing (a retiring worker). */
  private idleWaiters: Array<() => void> = [];
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
    board: IdleBoard,
    private readonly onBatchDone: (slot: WorkerSlot, message: BatchDone) => void,
    private readonly onFailure: (slot: WorkerSlot, error: Error) => void,
    private readonly onRecallQuality: (message: RecallQuality) => void,
  ) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const workerData: WorkerData = { port: port2, hnsw, nice: WORKER_NICE, id, idleBoard: board.cells };
    this.thread = new Worker(script, { workerData, transferList: [port2], resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
    this.ready = new Promise((resolve, reject) => {
      this.waiters.set('ready', { resolve: () => resolve(), reject });
    });
    this.port.on('message', (message: FromWorker) => this.receive(message));
    this.thread.on('error', (e) => this.fail(e));
    this.thread.on('exit', (code) => {
      this.exited = true;
      board.clear(id);
      if (!this.retiring) this.fail(new Error(`worker ${id} exited with code ${code}`));
    });
  }

  post(message: ToWorker, transfer: Transferable[] = []): void {
    this.port.postMessage(message, transfer);
  }

  /** Posts a request and waits for the reply carrying its key. */
  request(message: WorkerRequest, transfer: Transferable[] = []): Promise<FromWorker> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiters.set(message.key, { resolve, reject });
      this.post(message, transfer);
    });
  }

  /** Forgets a reply nobody waits for any more (a cancelled recall). */
  forget(key: string): void {
    this.waiters.delete(key);
    this.checkIdle();
  }

  get inFlight(): number {
    return this.batchesInFlight;
  }

  inFlightOf(space: string): number {
    return this.inFlightByIndex.of(space);
  }

  batchPosted(space: string): void {
    this.batchesInFlight++;
    this.inFlightByIndex.add(space);
  }

  /** A batch of `space` is done: resolves waiters for the space's batches, or for the worker, to end. */
  batchSettled(space: string): void {
    this.batchesInFlight--;
    this.inFlightByIndex.remove(space);
    this.checkIdle();
  }

  /** Resolves once no batch of `space` is in flight here. */
  spaceDrained(space: string): Promise<void> {
    return this.inFlightByIndex.whenZero(space);
  }

  /** Resolves once the worker has no batch in flight and owes no reply. */
  idle(): Promise<void> {
    if (this.isIdle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private get isIdle(): boolean {
    return this.batchesInFlight === 0 && this.waiters.size === 0;
  }

  private checkIdle(): void {
    if (!this.isIdle) return;
    const waiting = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiting) resolve();
  }

  private settle(key: string, message: FromWorker): void {
    const waiter = this.waiters.get(key);
    this.waiters.delete(key);
    waiter?.resolve(message);
    this.checkIdle();
  }

  private receive(message: FromWorker): void {
    if ('busyMs' in message) this.busyMs += message.busyMs;
    switch (message.type) {
      case 'ready': return this.settle('ready', message);
      case 'batchDone': return this.onBatchDone(this, message);
      case 'recallQuality': return this.onRecallQuality(message);
      default: return this.settle(message.key, message);
    }
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = new EngramError('WORKER_FAILED', `worker ${this.id} failed: ${error.message}`, { cause: error });
    for (const waiter of this.waiters.values()) waiter.reject(this.failure);
    this.waiters.clear();
    // Its batches are lost (the pool queues them again): nothing here will finish them.
    this.batchesInFlight = 0;
    this.inFlightByIndex.clear();
    this.checkIdle();
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
