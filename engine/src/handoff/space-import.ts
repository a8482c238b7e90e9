// The new owner's side of a hand-off: pulls a memory space from its current owner
// (Cluster.ExportSpace), loads the snapshot as the space's own (durably, in the data directory),
// makes every record that follows durable in its own log and indexes it, and once it has caught
// up asks the owner to fence. After `sealed` it indexes the rest and compares the count and
// checksum of its ids with the owner's: only a verified copy is reported as such, and only then
// does the operator give the space to this engine. Until that flip the copy serves nobody
// (requests for the space still go to the owner), so a broken import is simply started again.
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { AUTHORIZATION_HEADER } from '../auth/credentials.js';
import type { HnswConfig } from '../config/engine-config.js';
import type { Engine } from '../engine.js';
import { EngramError, toEngramError } from '../errors.js';
import type { ExportChunk__Output } from '../generated/engram/v1/ExportChunk.js';
import type { ExportRequest } from '../generated/engram/v1/ExportRequest.js';
import type { HandoffStatus } from '../generated/engram/v1/HandoffStatus.js';
import type { TransferRecord__Output } from '../generated/engram/v1/TransferRecord.js';
import type { IndexSink, QueuedObservation } from '../queue/ingest-queue.js';
import { decodeVector } from '../wire/vector-codec.js';
import type { Peers } from './peers.js';

export type ImportPhase = 'copying' | 'catching_up' | 'sealing' | 'verified' | 'failed';

/** Fence once no more than this many received records wait to be indexed. */
const CATCH_UP_LAG = 64;

/** Counts the transferred records indexed (they have no client session to be acknowledged to). */
class TransferSink {
  indexed = 0;
  failures: string[] = [];

  readonly sink: IndexSink = {
    indexed: (first, last) => {
      this.indexed += last - first + 1;
    },
    failed: (_sequence, reason) => {
      this.indexed++;
      this.failures.push(reason);
    },
  };
}

export class SpaceImport {
  phase: ImportPhase = 'copying';
  error = '';
  bytes = 0;
  records = 0;
  private readonly started = performance.now();
  private finishedAt: number | null = null;
  private fencedAt: number | null = null;
  private pauseSeconds = 0;
  private digest = { count: 0, checksum: '' };
  private call: grpc.ClientDuplexStream<ExportRequest, ExportChunk__Output> | null = null;
  private readonly transfer = new TransferSink();
  private sequence = 0;
  /** Records received and made durable, in arrival order. */
  private applying: Promise<void> = Promise.resolve();
  /** Why records could not be made durable here (the import then fails). */
  private applyError: unknown = null;
  readonly done: Promise<void>;

  constructor(
    private readonly engine: Engine,
    private readonly peers: Peers,
    readonly space: string,
    readonly sourceAddress: string,
    readonly handoffId: string,
    private readonly authorization: string | null = null,
  ) {
    this.done = this.run().then(
      () => this.settle('verified'),
      (e: unknown) => {
        this.error = toEngramError(e).message;
        this.settle('failed');
      },
    );
  }

  get status(): HandoffStatus {
    const end = this.finishedAt ?? performance.now();
    return {
      memorySpace: this.space, handoffId: this.handoffId, sourceAddress: this.sourceAddress, phase: this.phase,
      bytes: this.bytes, records: this.records, error: this.error, seconds: (end - this.started) / 1000,
      writePauseSeconds: this.pauseSeconds, count: this.digest.count, checksum: this.digest.checksum,
    };
  }

  get finished(): boolean {
    return this.phase === 'verified' || this.phase === 'failed';
  }

  /** Stops a running import (a newer one for the same space replaces it). */
  cancel(): void {
    this.call?.cancel();
  }

  private settle(phase: 'verified' | 'failed'): void {
    this.phase = phase;
    this.finishedAt = performance.now();
    const { metrics, log } = this.engine;
    metrics.handoffsActive.dec({ role: 'target' });
    metrics.handoffs.inc({ result: phase });
    if (phase === 'verified') {
      metrics.handoffDuration.observe((this.finishedAt - this.started) / 1000);
      metrics.handoffWritePause.observe(this.pauseSeconds);
      const seconds = (this.finishedAt - this.started) / 1000;
      log.info('hand-off verified', { space: this.space, handoffId: this.handoffId, count: this.digest.count, seconds: Number(seconds.toFixed(3)), writePauseSeconds: Number(this.pauseSeconds.toFixed(3)) });
    } else {
      metrics.handoffFailures.inc({ role: 'target' });
      log.warn('hand-off failed', { space: this.space, handoffId: this.handoffId, error: this.error });
    }
  }

  private async run(): Promise<void> {
    this.engine.metrics.handoffsActive.inc({ role: 'target' });
    const metadata = new grpc.Metadata();
    if (this.authorization) metadata.set(AUTHORIZATION_HEADER, this.authorization);
    const call = this.peers.get(this.sourceAddress).cluster.ExportSpace(metadata);
    this.call = call;
    call.write({ start: { memorySpace: this.space, handoffId: this.handoffId } });
    let header: { hnsw: HnswConfig; graph: Buffer[]; state: Buffer[]; graphBytes: number; stateBytes: number; received: number } | null = null;
    let sealed: { count: number; checksum: string } | null = null;
    try {
      for await (const chunk of call as AsyncIterable<ExportChunk__Output>) {
        if (chunk.body === 'header' && chunk.header) {
          const h = chunk.header;
          header = { hnsw: JSON.parse(h.hnswJson) as HnswConfig, graph: [], state: [], graphBytes: h.graphBytes, stateBytes: h.stateBytes, received: 0 };
          if (h.graphBytes + h.stateBytes === 0) throw new EngramError('HANDOFF_FAILED', 'the snapshot header announced no state file');
          this.checkMemory(h.graphBytes + h.stateBytes);
        } else if (chunk.body === 'data' && chunk.data && header) {
          (chunk.data.graph ? header.graph : header.state).push(chunk.data.data);
          header.received += chunk.data.data.length;
          this.bytes += chunk.data.data.length;
          if (header.received === header.graphBytes + header.stateBytes) await this.loadSnapshot(header);
        } else if (chunk.body === 'records' && chunk.records) {
          if (this.phase === 'copying') throw new EngramError('HANDOFF_FAILED', 'records arrived before the whole snapshot');
          if (chunk.records.records.length === 0) void this.fenceWhenCaughtUp(call);
          else this.apply(chunk.records.records);
        } else if (chunk.body === 'sealed' && chunk.sealed) {
          sealed = { count: chunk.sealed.count, checksum: chunk.sealed.checksum };
          break;
        } else {
          throw new EngramError('HANDOFF_FAILED', `unexpected export message ${chunk.body ?? 'without a body'}`);
        }
      }
    } catch (e) {
      if (this.applyError) throw this.durabilityFailure();
      throw e;
    } finally {
      call.end();
    }
    if (!sealed) throw new EngramError('HANDOFF_FAILED', `the export from ${this.sourceAddress} ended before the space was sealed`);
    await this.verify(sealed);
  }

  /**
   * A loaded snapshot takes about its size in memory: refuse a space this engine has no room for,
   * so a resize waits (saying why) instead of pushing the engine into its memory limit.
   */
  private checkMemory(snapshotBytes: number): void {
    const headroom = this.engine.memoryHeadroom();
    if (headroom === null || headroom >= snapshotBytes) return;
    const MiB = 1024 * 1024;
    throw new EngramError('INSUFFICIENT_MEMORY',
      `not enough memory on ${this.engine.membership.self ?? 'this engine'} for memory space '${this.space}': its snapshot is ${(snapshotBytes / MiB).toFixed(1)} MiB and `
      + `${(Math.max(0, headroom) / MiB).toFixed(1)} MiB are left under the engine's memory watermark; raise the pods' memory limit, or keep more pods`);
  }

  private async loadSnapshot(h: { hnsw: HnswConfig; graph: Buffer[]; state: Buffer[] }): Promise<void> {
    const graph = h.graph.length > 0 ? Buffer.concat(h.graph) : null;
    await this.engine.transfer.installTransferred(this.space, graph, Buffer.concat(h.state), h.hnsw);
    this.phase = 'catching_up';
  }

  /** Makes records durable here and queues them, in the order they came. */
  private apply(records: TransferRecord__Output[]): void {
    const now = performance.now();
    const dimension = this.engine.config().hnsw.dimension;
    const items: QueuedObservation[] = records.map((r) => ({
      space: this.space, id: r.id, sequence: ++this.sequence, sink: this.transfer.sink,
      vector: decodeVector(r.vector, dimension, 'transferred vector'), content: r.content,
      metadata: Object.keys(r.metadata).length > 0 ? r.metadata : null, acceptedAt: now, lsn: 0,
    }));
    this.records += items.length;
    this.engine.metrics.handoffRecords.inc(items.length);
    this.applying = this.applying
      .then(() => (this.applyError ? undefined : this.engine.transfer.ingestTransferred(this.space, items)))
      .catch((e: unknown) => {
        this.applyError ??= e;
        this.call?.cancel(); // the export would go on streaming: end it, the import fails with this cause
      });
  }

  private async fenceWhenCaughtUp(call: grpc.ClientDuplexStream<ExportRequest, ExportChunk__Output>): Promise<void> {
    while (this.sequence - this.transfer.indexed > CATCH_UP_LAG && !this.finished && !this.applyError) await new Promise((r) => setTimeout(r, 10));
    if (this.finished || this.applyError) return;
    this.phase = 'sealing';
    this.fencedAt = performance.now();
    call.write({ fence: {} });
  }

  private durabilityFailure(): EngramError {
    return new EngramError('HANDOFF_FAILED', `records could not be made durable here: ${toEngramError(this.applyError).message}`);
  }

  /** Everything received is indexed here: the two copies must hold the same ids. */
  private async verify(sealed: { count: number; checksum: string }): Promise<void> {
    await this.applying;
    if (this.applyError) throw this.durabilityFailure();
    while (this.transfer.indexed < this.sequence) await new Promise((r) => setTimeout(r, 5));
    await this.engine.transfer.quiesce(this.space);
    if (this.transfer.failures.length > 0) {
      throw new EngramError('HANDOFF_FAILED', `${this.transfer.failures.length} transferred records failed to index: ${this.transfer.failures[0]}`);
    }
    this.digest = await this.engine.transfer.digest(this.space);
    this.pauseSeconds = this.fencedAt === null ? 0 : (performance.now() - this.fencedAt) / 1000;
    if (this.digest.count !== sealed.count || this.digest.checksum !== sealed.checksum) {
      throw new EngramError('HANDOFF_FAILED',
        `the copy does not match: ${this.digest.count} ids (checksum ${this.digest.checksum}) here, ${sealed.count} (checksum ${sealed.checksum}) at ${this.sourceAddress}`);
    }
  }
}
