// The old owner's side of a hand-off (Cluster.ExportSpace). It taps the space's queue first, so
// every observation accepted from then on is copied; writes the space's index snapshot and streams
// it; then streams the observations that were queued or being indexed when the tap began (some may
// be in the snapshot too: replaying them is an upsert of the same id and vector) and those queued
// while the snapshot was sent, then an empty batch meaning "now live", then every new one as it is
// queued. When the new owner has caught up it sends `fence`: writes to the space are refused
// (retryable), everything admitted is indexed and copied, and `sealed` carries the count and
// checksum of the space's ids. A stream that breaks before `sealed` lifts the fence; after it the
// space stays sealed until it is released.
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type { Engine } from '../engine.js';
import { EngramError, toEngramError } from '../errors.js';
import type { ExportChunk } from '../generated/engram/v1/ExportChunk.js';
import type { ExportRequest__Output } from '../generated/engram/v1/ExportRequest.js';
import type { TransferRecord } from '../generated/engram/v1/TransferRecord.js';
import type { QueuedObservation } from '../queue/ingest-queue.js';
import { toServiceError } from '../server/grpc-errors.js';
import { validateSpaceId } from '../tenancy/space-directory.js';
import { encodeVector } from '../wire/vector-codec.js';

type ExportCall = grpc.ServerDuplexStream<ExportRequest__Output, ExportChunk>;

const CHUNK_BYTES = 1 << 20;
const RECORDS_PER_BATCH = 256;

export class SpaceExport {
  private space = '';
  private handoffId = '';
  private untap: (() => void) | null = null;
  /** Observations queued while the snapshot is sent: they follow it (null once live). */
  private held: QueuedObservation[] | null = [];
  private sealed = false;
  private done = false;
  private fencing = false;

  constructor(private readonly engine: Engine, private readonly call: ExportCall) {}

  start(): void {
    this.call.on('data', (message: ExportRequest__Output) => {
      if (message.body === 'start' && message.start && !this.space) {
        void this.begin(message.start.memorySpace, message.start.handoffId).catch((e: unknown) => this.fail(e));
      } else if (message.body === 'fence' && this.space && !this.fencing) {
        this.fencing = true;
        void this.seal().catch((e: unknown) => this.fail(e));
      } else {
        this.fail(new EngramError('PROTOCOL_VIOLATION', 'an export starts with one start message and may then send one fence'));
      }
    });
    this.call.on('end', () => this.finish());
    this.call.on('cancelled', () => this.finish(false));
    this.call.on('error', () => this.finish(false));
  }

  private async begin(spaceId: string, handoffId: string): Promise<void> {
    const space = validateSpaceId(spaceId);
    const { engine } = this;
    if (!engine.membership.owns(space) && !engine.membership.isSealed(space)) {
      throw new EngramError('SPACE_MOVED', `memory space '${space}' is not owned by this engine (placement generation ${engine.membership.generation})`);
    }
    if (!engine.directory.has(space)) throw new EngramError('SPACE_NOT_FOUND', `memory space '${space}' does not exist`);
    this.space = space;
    this.handoffId = handoffId;
    const { pending, untap } = engine.transfer.tapSpace(space, (items) => {
      if (this.held) this.held.push(...items);
      else this.sendRecords(items);
    });
    this.untap = untap;
    engine.metrics.handoffsActive.inc({ role: 'source' });
    await this.sendSnapshot(space);
    this.sendRecords([...pending].sort((a, b) => a.lsn - b.lsn));
    this.sendRecords(this.held ?? []);
    this.held = null;
    this.write({ records: { records: [] } }); // caught up to live
  }

  private async sendSnapshot(space: string): Promise<void> {
    const base = join(this.engine.transfer.scratch, `export-${process.pid}-${space}-${Date.now()}`);
    const files = { graphPath: `${base}.hnsw`, statePath: `${base}.state.json` };
    try {
      const report = await this.engine.transfer.snapshotSpace(space, files);
      const graph = report.size > 0 ? await readFile(files.graphPath) : null;
      const state = await readFile(files.statePath);
      this.write({ header: { size: report.size, hnswJson: JSON.stringify(report.hnsw), graphBytes: graph?.length ?? 0, stateBytes: state.length } });
      for (const [isGraph, data] of [[true, graph], [false, state]] as const) {
        if (!data) continue;
        for (let at = 0; at < data.length; at += CHUNK_BYTES) this.write({ data: { graph: isGraph, data: data.subarray(at, at + CHUNK_BYTES) } });
        this.engine.metrics.handoffBytes.inc(data.length);
      }
    } finally {
      await rm(files.graphPath, { force: true });
      await rm(files.statePath, { force: true });
    }
  }

  private sendRecords(items: readonly QueuedObservation[]): void {
    for (let at = 0; at < items.length; at += RECORDS_PER_BATCH) {
      const records: TransferRecord[] = items.slice(at, at + RECORDS_PER_BATCH).map((o) => ({
        id: o.id, vector: encodeVector(o.vector), content: o.content, metadata: o.metadata ?? {}, lsn: o.lsn,
      }));
      this.write({ records: { records } });
    }
  }

  /** Fence, wait until everything admitted is indexed (and so copied), then send the digest. */
  private async seal(): Promise<void> {
    const { engine, space } = this;
    engine.membership.fence(space, this.handoffId);
    await engine.transfer.quiesce(space);
    const digest = await engine.transfer.digest(space);
    engine.membership.seal(space);
    this.sealed = true;
    this.write({ sealed: { count: digest.count, checksum: digest.checksum } });
    engine.log.info('memory space sealed for hand-off', { space, handoffId: this.handoffId, count: digest.count, checksum: digest.checksum });
  }

  private write(chunk: ExportChunk): void {
    if (!this.done) this.call.write(chunk);
  }

  private fail(e: unknown): void {
    if (this.done) return;
    this.engine.metrics.handoffFailures.inc({ role: 'source' });
    this.engine.log.warn('hand-off export failed', { space: this.space, handoffId: this.handoffId, error: toEngramError(e).message });
    this.call.emit('error', toServiceError(e));
    this.finish(false);
  }

  private finish(endCall = true): void {
    if (this.done) return;
    this.done = true;
    this.untap?.();
    if (this.space) {
      if (!this.sealed) this.engine.membership.unfence(this.space, this.handoffId);
      this.engine.metrics.handoffsActive.dec({ role: 'source' });
    }
    if (endCall) this.call.end();
  }
}
