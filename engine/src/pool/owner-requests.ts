// Requests answered by the worker that owns a memory space: recalls, lookups by id, digests,
// snapshots, restores and rebuild steps. Each waits until the space is settled (not being moved
// or restored, its replayed records indexed), so it reaches the index that has everything.
import type { EngineConfig, HnswConfig } from '../config/engine-config.js';
import { EngramError } from '../errors.js';
import type { FetchedData, RecallHitData, SnapshotFiles, SnapshotTarget } from '../index/index-data.js';
import type { SpaceReport, ToWorker } from '../worker/messages.js';
import type { RebuildScheduler } from './index-rebuild.js';
import type { Ownership } from './ownership.js';
import type { WorkerRequest, WorkerSlot } from './worker-slot.js';
import type { Workers } from './workers.js';

export interface RecallResult {
  hits: RecallHitData[];
  spaceSize: number;
}

export interface OwnerRequestDeps {
  workers: Workers;
  ownership: Ownership;
  rebuilds(): RebuildScheduler;
  config(): EngineConfig;
}

export class OwnerRequests {
  /** Shares of a shadow recall accumulated (see sampleQuality). */
  private qualityCredit = 0;
  private nextKey = 1;

  constructor(private readonly deps: OwnerRequestDeps) {}

  /** The owner of a settled space. */
  private async owner(space: string): Promise<WorkerSlot> {
    await this.deps.ownership.settled(space);
    return this.deps.workers.get(this.deps.ownership.ownerOf(space));
  }

  private key(kind: string): string {
    return `${kind}:${this.nextKey++}`;
  }

  async recall(space: string, vector: Float32Array, k: number, ef: number, signal?: AbortSignal): Promise<RecallResult> {
    try {
      return await this.recallOnce(space, vector, k, ef, signal);
    } catch (e) {
      // The worker died under the recall: ask its replacement once the space is recovered.
      if (!(e instanceof EngramError && e.code === 'WORKER_FAILED') || signal?.aborted) throw e;
      return this.recallOnce(space, vector, k, ef, signal);
    }
  }

  private async recallOnce(space: string, vector: Float32Array, k: number, ef: number, signal?: AbortSignal): Promise<RecallResult> {
    // A failed move leaves the space where it was, which is fine: settled() waits either way.
    const slot = await this.owner(space);
    signal?.throwIfAborted();
    const key = this.key('recall');
    const onAbort = (): void => slot.forget(key);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const reply = await slot.request({ type: 'recall', key, space, vector, k, ef, measureQuality: this.sampleQuality() });
      if (reply.type === 'recallFailed') throw new EngramError('INTERNAL', `recall failed in worker ${slot.id}: ${reply.reason}`);
      if (reply.type !== 'recallDone') throw unexpected(reply.type);
      return { hits: reply.hits, spaceSize: reply.spaceSize };
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Whether this recall is also measured against an exact search: every 1/sampleRate-th recall,
   * counted rather than drawn at random, so a rate gives the same share on every engine.
   */
  private sampleQuality(): boolean {
    this.qualityCredit += this.deps.config().quality.sampleRate;
    if (this.qualityCredit < 1) return false;
    this.qualityCredit -= 1;
    return true;
  }

  /** Sends a keyed request to the owner of `space` and returns its report. */
  async report(space: string, build: (key: string) => WorkerRequest): Promise<SpaceReport> {
    const slot = await this.owner(space);
    const reply = await slot.request(build(this.key('req')));
    if (reply.type === 'requestFailed') throw new EngramError('INTERNAL', `worker ${slot.id}, memory space '${space}': ${reply.reason}`);
    if (reply.type !== 'report') throw unexpected(reply.type);
    return reply.report;
  }

  async fetch(space: string, ids: string[]): Promise<{ found: FetchedData[]; missing: string[] }> {
    const slot = await this.owner(space);
    const reply = await slot.request({ type: 'fetch', key: this.key('fetch'), space, ids });
    if (reply.type !== 'fetched') throw unexpected(reply.type);
    return { found: reply.found, missing: reply.missing };
  }

  async digest(space: string): Promise<{ count: number; checksum: string }> {
    const slot = await this.owner(space);
    const reply = await slot.request({ type: 'digest', key: this.key('digest'), space });
    if (reply.type !== 'digested') throw unexpected(reply.type);
    return { count: reply.count, checksum: reply.checksum };
  }

  snapshot(space: string, files: SnapshotTarget): Promise<SpaceReport> {
    return this.report(space, (key) => ({ type: 'snapshot', key, space, files }));
  }

  async restore(space: string, files: SnapshotFiles, hnsw: HnswConfig, lsn: number): Promise<SpaceReport> {
    const report = await this.report(space, (key) => ({ type: 'restore', key, space, files, hnsw, lsn }));
    this.deps.ownership.noteIndexed(space, lsn);
    this.deps.rebuilds().builtWith(space, hnsw);
    return report;
  }

  /** Posts to the owner of a space without waiting (rebuild abandon). */
  post(space: string, message: ToWorker): void {
    this.deps.workers.find(this.deps.ownership.ownerOf(space))?.post(message);
  }

  /** Forgets a space that now lives on another pod: its worker drops the index, a rebuild of it is abandoned. */
  async release(space: string): Promise<void> {
    const { ownership, workers } = this.deps;
    await this.deps.rebuilds().waitFor(space);
    await ownership.settled(space);
    const owner = ownership.knownOwner(space);
    if (owner === undefined) return;
    workers.find(owner)?.post({ type: 'drop', space });
    ownership.forget(space);
    this.deps.rebuilds().forget(space);
  }
}

function unexpected(type: string): EngramError {
  return new EngramError('INTERNAL', `unexpected reply ${type}`);
}
