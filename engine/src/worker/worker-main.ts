// A pool worker thread. It owns the HNSW indexes of the memory spaces the ring gives it and
// handles one message at a time, except that between two inserts of a batch it takes any recall
// waiting on its port (receiveMessageOnPort), so a recall never waits behind a whole batch.
import { performance } from 'node:perf_hooks';
import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { rmSync } from 'node:fs';
import { availableParallelism, setPriority } from 'node:os';
import type { HnswConfig } from '../config/engine-config.js';
import { SpaceIndex } from '../index/space-index.js';
import type { FetchedData } from '../index/index-data.js';
import { IdleBoard } from './idle-board.js';
import type { FromWorker, ToWorker, WorkerData } from './messages.js';

/**
 * Spaces up to this size get sampled recalls checked by an exact search (one distance per vector,
 * each vector read out of the graph into JS): beyond it the check would cost the worker more
 * than the recall. Larger spaces are not measured (docs/canary.md).
 */
const QUALITY_MAX_VECTORS = 20_000;

/**
 * Observations per insert thread in one chunk of a multi-threaded usearch insert: recalls that
 * arrive meanwhile wait for the chunk (about 8 inserts' time), and the idle workers are counted
 * again before the next.
 */
const CHUNK_PER_THREAD = 8;

/** The cores this process may run on (its CPU affinity). */
const CORES = availableParallelism();

type BatchMessage = Extract<ToWorker, { type: 'batch' }>;
type RecallMessage = Extract<ToWorker, { type: 'recall' }>;

class IndexWorker {
  private readonly spaces = new Map<string, SpaceIndex>();
  private readonly backlog: ToWorker[] = [];
  private running = false;

  constructor(private readonly port: MessagePort, private hnsw: HnswConfig, private readonly id: number, private readonly board: IdleBoard) {}

  start(): void {
    this.port.on('message', (message: ToWorker) => this.enqueue(message));
    this.board.setBusy(this.id, false);
    this.post({ type: 'ready' });
  }

  private post(message: FromWorker): void {
    this.port.postMessage(message);
  }

  private enqueue(message: ToWorker): void {
    this.backlog.push(message);
    if (this.running) return;
    this.running = true;
    this.board.setBusy(this.id, true);
    try {
      for (let next = this.backlog.shift(); next; next = this.backlog.shift()) this.handle(next);
    } finally {
      this.running = false;
      this.board.setBusy(this.id, false);
    }
  }

  private handle(message: ToWorker): void {
    switch (message.type) {
      case 'batch': return this.indexBatch(message);
      case 'recall': return this.recall(message);
      case 'configure': return this.configure(message.hnsw);
      case 'export': return this.exportSpace(message);
      case 'import': return this.importSpace(message);
      case 'drop': return this.drop(message.space);
      case 'snapshot':
        return this.answer(message.key, message.space, () => this.existing(message.space).writeSnapshot(message.files.graphPath, message.files.statePath));
      case 'restore':
        return this.answer(message.key, message.space, () => {
          const index = SpaceIndex.readSnapshot(message.files.graphPath, message.files.statePath, message.hnsw, message.lsn);
          index.setEfSearch(this.hnsw.efSearch);
          this.replace(message.space, index);
        });
      case 'rebuildBegin':
        return this.answer(message.key, message.space, () => this.existing(message.space).beginRebuild(message.path));
      case 'rebuildSwap':
        return this.answer(message.key, message.space, () => this.existing(message.space).finishRebuild(message.path, message.hnsw));
      case 'rebuildAbandon':
        return void this.spaces.get(message.space)?.abandonRebuild();
      case 'fetch': return this.fetch(message);
      case 'digest': {
        const digest = this.spaces.get(message.space)?.digest() ?? { count: 0, checksum: '0'.repeat(16) };
        return this.post({ type: 'digested', key: message.key, ...digest });
      }
      case 'exit':
      case 'crash': return this.stop(message.type);
    }
  }

  private fetch({ key, space, ids }: Extract<ToWorker, { type: 'fetch' }>): void {
    const index = this.spaces.get(space);
    const found: FetchedData[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      const entry = index?.get(id) ?? null;
      if (entry) found.push(entry);
      else missing.push(id);
    }
    this.post({ type: 'fetched', key, found, missing });
  }

  /** Forgets a space that has left this worker, and frees its graph now (see `SpaceIndex.release`). */
  private drop(space: string): void {
    this.spaces.get(space)?.release();
    this.spaces.delete(space);
  }

  /** Puts a loaded index in place of the space's current one, whose graph is freed now. */
  private replace(space: string, index: SpaceIndex): void {
    this.spaces.get(space)?.release();
    this.spaces.set(space, index);
  }

  private existing(space: string): SpaceIndex {
    const index = this.spaces.get(space);
    if (!index) throw new Error(`memory space '${space}' is not on this worker`);
    return index;
  }

  /** Runs a keyed request and replies with the space's report, or why it failed. */
  private answer(key: string, space: string, work: () => void): void {
    const started = performance.now();
    try {
      work();
      const index = this.spaceFor(space);
      this.post({ type: 'report', key, report: { space, size: index.size, lsn: index.lsn, hnsw: index.hnsw }, busyMs: performance.now() - started });
    } catch (e) {
      this.post({ type: 'requestFailed', key, reason: e instanceof Error ? e.message : String(e) });
    }
  }

  /**
   * Serves recalls already waiting on the port, and stops at once if told to; anything else keeps
   * its place in the backlog.
   */
  private serveWaitingRecalls(): void {
    for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) {
      const message = m.message as ToWorker;
      if (message.type === 'recall') this.recall(message);
      else if (message.type === 'exit' || message.type === 'crash') this.stop(message.type);
      else this.backlog.push(message);
    }
  }

  /**
   * Ends the thread between two inserts, never inside one: terminating a thread while hnswlib-node
   * is in native code aborts the whole process (its addon treats the pending termination as a
   * fatal error). `crash` throws, as a bug would: the pool sees an error and replaces the worker.
   */
  private stop(how: 'exit' | 'crash'): never {
    if (how === 'crash') throw new Error('fault injection: worker crashed');
    process.exit(0);
  }

  private spaceFor(space: string): SpaceIndex {
    let index = this.spaces.get(space);
    if (!index) {
      index = SpaceIndex.create(this.hnsw);
      this.spaces.set(space, index);
    }
    return index;
  }

  private indexBatch(batch: BatchMessage): void {
    const started = performance.now();
    const index = this.spaceFor(batch.space);
    const failures: Array<{ index: number; reason: string }> = [];
    let recallTime = 0;
    let borrowedMs = 0;
    const multiThreaded = index.hnsw.backend === 'usearch' && this.hnsw.insertThreads !== 1;
    for (let from = 0; from < batch.ids.length;) {
      const before = performance.now();
      this.serveWaitingRecalls();
      recallTime += performance.now() - before;
      const threads = multiThreaded ? 1 + this.board.spareCores(this.id, CORES, (this.hnsw.insertThreads || Infinity) - 1) : 1;
      const to = threads === 1 ? from + 1 : Math.min(batch.ids.length, from + CHUNK_PER_THREAD * threads);
      const chunkStarted = performance.now();
      this.upsert(index, batch, from, to, threads, failures);
      borrowedMs += (threads - 1) * (performance.now() - chunkStarted);
      from = to;
    }
    index.lsn = Math.max(index.lsn, batch.lastLsn);
    this.post({
      type: 'batchDone', batchId: batch.batchId, space: batch.space,
      busyMs: performance.now() - started - recallTime, borrowedMs, spaceSize: index.size, failures,
    });
  }

  /**
   * Inserts observations `from` to `to` of a batch; a failed chunk is inserted again one by one,
   * so each failure names its observation (an insert that did go in is replaced by itself).
   */
  private upsert(index: SpaceIndex, batch: BatchMessage, from: number, to: number, threads: number, failures: Array<{ index: number; reason: string }>): void {
    if (to - from > 1) {
      try {
        return index.upsertMany(batch, from, to, threads);
      } catch {
        // attributed below
      }
    }
    const dim = index.hnsw.dimension;
    for (let i = from; i < to; i++) {
      try {
        index.upsert(batch.ids[i] as string, batch.vectors, i * dim, batch.contents[i] as string, batch.metadata[i] ?? null);
      } catch (e) {
        failures.push({ index: i, reason: e instanceof Error ? e.message : String(e) });
      }
    }
  }

  private recall(message: RecallMessage): void {
    const started = performance.now();
    const index = this.spaces.get(message.space);
    try {
      const hits = index ? index.search(message.vector, message.k, message.ef) : [];
      this.post({ type: 'recallDone', key: message.key, hits, spaceSize: index?.size ?? 0, busyMs: performance.now() - started });
      if (message.measureQuality && index && hits.length > 0 && index.size <= QUALITY_MAX_VECTORS) this.measureQuality(index, message, hits.map((h) => h.id));
    } catch (e) {
      this.post({ type: 'recallFailed', key: message.key, reason: e instanceof Error ? e.message : String(e) });
    }
  }

  /** After the answer went out: the exact k nearest, and how many of them the answer had. */
  private measureQuality(index: SpaceIndex, message: RecallMessage, found: string[]): void {
    const started = performance.now();
    const exact = index.exactSearch(message.vector, message.k);
    const answered = new Set(found);
    const hits = exact.filter((id) => answered.has(id)).length;
    this.post({ type: 'recallQuality', hits, expected: exact.length, busyMs: performance.now() - started });
  }

  private configure(hnsw: HnswConfig): void {
    this.hnsw = hnsw;
    for (const index of this.spaces.values()) index.setEfSearch(hnsw.efSearch);
  }

  /** Writes the space's index for its new owner; keeps it until told to drop it. */
  private exportSpace({ key, space, path }: Extract<ToWorker, { type: 'export' }>): void {
    const started = performance.now();
    try {
      const state = this.spaces.get(space)?.export(path) ?? null;
      this.post({ type: 'exported', key, space, state, busyMs: performance.now() - started });
    } catch (e) {
      rmSync(path, { force: true });
      this.post({ type: 'moveFailed', key, space, step: 'export', reason: e instanceof Error ? e.message : String(e) });
    }
  }

  private importSpace(message: Extract<ToWorker, { type: 'import' }>): void {
    const started = performance.now();
    try {
      if (message.state) {
        const index = SpaceIndex.load(message.path, message.state);
        index.setEfSearch(this.hnsw.efSearch);
        this.replace(message.space, index);
      }
      this.post({ type: 'imported', key: message.key, space: message.space, spaceSize: this.spaces.get(message.space)?.size ?? 0, busyMs: performance.now() - started });
    } catch (e) {
      this.post({ type: 'moveFailed', key: message.key, space: message.space, step: 'import', reason: e instanceof Error ? e.message : String(e) });
    } finally {
      rmSync(message.path, { force: true });
    }
  }
}

const data = workerData as WorkerData;
// Indexing is background work: on Linux the nice value is per thread, so this lowers only this
// worker, and the main thread (gRPC, acks, recall routing) wins the CPU when the cores are full.
if (data.nice > 0) {
  try {
    setPriority(data.nice);
  } catch {
    // not permitted here: run at normal priority
  }
}
new IndexWorker(data.port, data.hnsw, data.id, new IdleBoard(data.idleBoard)).start();
