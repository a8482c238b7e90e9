// Requests answered by the workers that own a memory space's indexes: recalls (to every shard,
// the hits merged), lookups by id (each to its id's shard), digests (summed over shards),
// snapshots, restores and rebuild steps (to one index). Each waits until the index is settled (not
// being moved or restored, its replayed records indexed), so it reaches the index that has
// everything.
import type { EngineConfig, HnswConfig } from '../config/engine-config.js';
import { EngramError } from '../errors.js';
import type { FetchedData, RecallHitData, SnapshotFiles, SnapshotTarget } from '../index/index-data.js';
import type { SpaceReport, ToWorker } from '../worker/messages.js';
import type { RebuildScheduler } from './index-rebuild.js';
import { addChecksums } from '../index/id-digest.js';
import { groupBy } from './group-by.js';
import { KeyedCount } from './keyed-count.js';
import type { Ownership } from './ownership.js';
import type { ShardLayout } from './shard-layout.js';
import type { WorkerRequest, WorkerSlot } from './worker-slot.js';
import type { Workers } from './workers.js';

export interface RecallResult {
  hits: RecallHitData[];
  spaceSize: number;
}

export interface OwnerRequestDeps {
  workers: Workers;
  ownership: Ownership;
  layout: ShardLayout;
  rebuilds(): RebuildScheduler;
  config(): EngineConfig;
}

export class OwnerRequests {
  /** Shares of a shadow recall accumulated (see sampleQuality). */
  private qualityCredit = 0;
  private nextKey = 1;

  constructor(private readonly deps: OwnerRequestDeps) {}

  /** Requests under way per index: an index replaced by a reshard is dropped only when none is left. */
  private readonly inUse = new KeyedCount();

  /** Runs `ask` against the owner of a settled index, counting it as a use of the index meanwhile. */
  private async withOwner<T>(index: string, ask: (slot: WorkerSlot) => Promise<T>): Promise<T> {
    this.inUse.add(index);
    try {
      await this.deps.ownership.settled(index);
      return await ask(this.deps.workers.get(this.deps.ownership.ownerOf(index)));
    } finally {
      this.inUse.remove(index);
    }
  }

  private key(kind: string): string {
    return `${kind}:${this.nextKey++}`;
  }

  /**
   * The k nearest in the space: every shard is asked for its k nearest with the same ef, and the
   * k nearest of those are the answer (a recall takes as long as its slowest shard).
   */
  async recall(space: string, vector: Float32Array, k: number, ef: number, signal?: AbortSignal): Promise<RecallResult> {
    const measureQuality = this.sampleQuality();
    const keys = this.deps.layout.keysOf(space);
    const answers = await Promise.all(keys.map((key) => this.recallShard(key, vector, k, ef, measureQuality, signal)));
    if (answers.length === 1) return answers[0] as RecallResult;
    const hits = answers.flatMap((a) => a.hits).sort((a, b) => a.distance - b.distance).slice(0, k);
    return { hits, spaceSize: answers.reduce((n, a) => n + a.spaceSize, 0) };
  }

  private async recallShard(key: string, vector: Float32Array, k: number, ef: number, measureQuality: boolean, signal?: AbortSignal): Promise<RecallResult> {
    try {
      return await this.recallOnce(key, vector, k, ef, measureQuality, signal);
    } catch (e) {
      // The worker died under the recall: ask its replacement once the index is recovered.
      if (!(e instanceof EngramError && e.code === 'WORKER_FAILED') || signal?.aborted) throw e;
      return this.recallOnce(key, vector, k, ef, measureQuality, signal);
    }
  }

  private async recallOnce(index: string, vector: Float32Array, k: number, ef: number, measureQuality: boolean, signal?: AbortSignal): Promise<RecallResult> {
    // A failed move leaves the index where it was, which is fine: settled() waits either way.
    return this.withOwner(index, async (slot) => {
      signal?.throwIfAborted();
      const key = this.key('recall');
      const onAbort = (): void => slot.forget(key);
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        const reply = await slot.request({ type: 'recall', key, space: index, vector, k, ef, measureQuality });
        if (reply.type === 'recallFailed') throw new EngramError('INTERNAL', `recall failed in worker ${slot.id}: ${reply.reason}`);
        if (reply.type !== 'recallDone') throw unexpected(reply.type);
        return { hits: reply.hits, spaceSize: reply.spaceSize };
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    });
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

  /** Sends a keyed request to the owner of index `index` and returns its report. */
  report(index: string, build: (key: string) => WorkerRequest): Promise<SpaceReport> {
    return this.withOwner(index, async (slot) => {
      const reply = await slot.request(build(this.key('req')));
      if (reply.type === 'requestFailed') throw new EngramError('INTERNAL', `worker ${slot.id}, index '${index}': ${reply.reason}`);
      if (reply.type !== 'report') throw unexpected(reply.type);
      return reply.report;
    });
  }

  /** Looks ids up, each in its shard; both lists in the order asked. */
  async fetch(space: string, ids: string[]): Promise<{ found: FetchedData[]; missing: string[] }> {
    const byShard = groupBy(ids, (id) => this.deps.layout.keyOf(space, id));
    const replies = await Promise.all([...byShard].map(([index, some]) => this.fetchShard(index, some)));
    const found = new Map(replies.flatMap((r) => r.found).map((f) => [f.id, f]));
    return { found: ids.flatMap((id) => found.get(id) ?? []), missing: ids.filter((id) => !found.has(id)) };
  }

  private fetchShard(index: string, ids: string[]): Promise<{ found: FetchedData[]; missing: string[] }> {
    return this.withOwner(index, async (slot) => {
      const reply = await slot.request({ type: 'fetch', key: this.key('fetch'), space: index, ids });
      if (reply.type !== 'fetched') throw unexpected(reply.type);
      return { found: reply.found, missing: reply.missing };
    });
  }

  /** Count and checksum of the space's ids, over all its shards (the checksum is a sum, so they add). */
  async digest(space: string): Promise<{ count: number; checksum: string }> {
    const digests = await Promise.all(this.deps.layout.keysOf(space).map((index) => this.withOwner(index, async (slot) => {
      const reply = await slot.request({ type: 'digest', key: this.key('digest'), space: index });
      if (reply.type !== 'digested') throw unexpected(reply.type);
      return { count: reply.count, checksum: reply.checksum };
    })));
    return { count: digests.reduce((n, d) => n + d.count, 0), checksum: addChecksums(digests.map((d) => d.checksum)) };
  }

  snapshot(index: string, files: SnapshotTarget): Promise<SpaceReport> {
    return this.report(index, (key) => ({ type: 'snapshot', key, space: index, files }));
  }

  async restore(index: string, files: SnapshotFiles, hnsw: HnswConfig, lsn: number): Promise<SpaceReport> {
    const report = await this.report(index, (key) => ({ type: 'restore', key, space: index, files, hnsw, lsn }));
    this.deps.ownership.noteIndexed(index, lsn);
    this.deps.ownership.noteSize(index, report.size);
    this.deps.rebuilds().builtWith(index, hnsw);
    return report;
  }

  /** Posts to the owner of an index without waiting (rebuild abandon). */
  post(index: string, message: ToWorker): void {
    this.deps.workers.find(this.deps.ownership.ownerOf(index))?.post(message);
  }

  /** Forgets a space that now lives on another pod: its workers drop its indexes, rebuilds of them are abandoned. */
  async release(space: string): Promise<void> {
    await this.retire(this.deps.layout.keysOf(space));
    this.deps.layout.forget(space);
  }

  /** Drops indexes (a space's, or a layout a reshard replaced) once no request uses them. */
  async retire(indexes: string[]): Promise<void> {
    for (const index of indexes) await this.retireIndex(index);
  }

  private async retireIndex(index: string): Promise<void> {
    const { ownership, workers } = this.deps;
    await this.deps.rebuilds().waitFor(index);
    await ownership.settled(index);
    await this.inUse.whenZero(index);
    const owner = ownership.knownOwner(index);
    if (owner === undefined) return;
    workers.find(owner)?.post({ type: 'drop', space: index });
    ownership.forget(index);
    this.deps.rebuilds().forget(index);
  }
}

function unexpected(type: string): EngramError {
  return new EngramError('INTERNAL', `unexpected reply ${type}`);
}
