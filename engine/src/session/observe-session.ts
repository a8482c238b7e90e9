// One client's observation stream: strict sequence numbers, validation, admission against the
// queue, the tenant's rate limit and quota, and every ack and pressure signal the client gets.
// Retryable refusals (backpressure, rate, quota, shutdown) never consume a sequence number: the
// client resends from the first refused one and succeeds.
import { performance } from 'node:perf_hooks';
import type { EngineConfig, TenantConfig } from '../config/engine-config.js';
import type { ObservationBatch__Output } from '../generated/engram/v1/ObservationBatch.js';
import type { ServerMessage } from '../generated/engram/v1/ServerMessage.js';
import type { StreamState } from '../generated/engram/v1/StreamState.js';
import type { EngineMetrics } from '../metrics/engine-metrics.js';
import type { IndexSink, IngestQueue, QueuedObservation } from '../queue/ingest-queue.js';
import { LEVEL_NAMES, PressureLevel, pressureLevel, retryAfterMs } from '../queue/pressure.js';
import type { SpaceDirectory, SpaceRecord } from '../tenancy/space-directory.js';
import type { Tenants } from '../tenancy/tenants.js';
import { AckRanges, type Rejection } from './ack-ranges.js';
import { decodeObservation } from './decode-observation.js';

export interface SessionContext {
  readonly queue: IngestQueue;
  readonly directory: SpaceDirectory;
  readonly tenants: Tenants;
  readonly metrics: EngineMetrics;
  readonly totals: { accepted: number; rejected: number };
  config(): EngineConfig;
  drainRate(): number;
  /** Observations were queued for `space`: the pool should dispatch soon. */
  queued(space: string): void;
  accepting(): boolean;
}

const LEVEL_STATES: Record<PressureLevel, StreamState> = {
  [PressureLevel.NORMAL]: 'ACTIVE',
  [PressureLevel.WARNING]: 'BACKPRESSURE',
  [PressureLevel.CRITICAL]: 'BACKPRESSURE',
  [PressureLevel.OVERLOADED]: 'OVERLOADED',
};
const LEVEL_PROTO = ['PRESSURE_NORMAL', 'PRESSURE_WARNING', 'PRESSURE_CRITICAL', 'PRESSURE_OVERLOADED'] as const;

export class ObserveSession implements IndexSink {
  private nextSequence = 1;
  private outstanding = 0;
  private indexedThrough = 0;
  private level: PressureLevel = PressureLevel.NORMAL;
  private paused = false;
  private closed = false;
  private drainWaiter: (() => void) | null = null;
  private readonly tenant: TenantConfig;

  constructor(
    readonly id: string,
    private readonly space: SpaceRecord,
    private readonly honoursBackpressure: boolean,
    private readonly context: SessionContext,
    private readonly send: (message: ServerMessage) => void,
  ) {
    this.tenant = context.tenants.tenantOf(space.id);
  }

  get spaceId(): string {
    return this.space.id;
  }

  /** Admits what it can of one batch, acks every observation in it, then reports pressure. */
  observe(batch: ObservationBatch__Output): void {
    const { queue, metrics } = this.context;
    const dimension = this.context.config().hnsw.dimension;
    const acks = new AckRanges();
    const accepted: QueuedObservation[] = [];
    const budget = this.budget(batch.observations.length);
    let refusal: Rejection | null = null;
    let refused = 0;
    const now = performance.now();

    for (const o of batch.observations) {
      const sequence = o.sequence;
      if (refusal) {
        acks.rejected(sequence, refusal);
        refused++;
        continue;
      }
      if (sequence !== this.nextSequence) {
        const duplicate = sequence < this.nextSequence;
        acks.rejected(sequence, {
          code: duplicate ? 'REJECT_SEQUENCE_DUPLICATE' : 'REJECT_SEQUENCE_GAP',
          reason: `sequence ${sequence} ${duplicate ? 'was already used' : 'skips ahead'}; expected ${this.nextSequence}`,
          retryAfterMs: 0,
        });
        continue;
      }
      const decoded = decodeObservation(o, dimension);
      if (!decoded.ok) {
        acks.rejected(sequence, { code: 'REJECT_INVALID_OBSERVATION', reason: decoded.reason, retryAfterMs: 0 });
        this.countRejected('invalid', 1);
        this.nextSequence++;
        continue;
      }
      if (accepted.length >= budget.count) {
        refusal = budget.refusal;
        acks.rejected(sequence, refusal);
        refused++;
        continue;
      }
      accepted.push({
        space: this.space.id, id: decoded.id, sequence, sink: this, vector: decoded.vector,
        content: decoded.content, metadata: decoded.metadata, acceptedAt: now,
      });
      acks.accepted(sequence);
      this.nextSequence++;
    }
    if (refusal) this.countRejected(String(refusal.code), refused);

    if (accepted.length > 0) {
      queue.push(this.space.id, accepted);
      this.space.pending += accepted.length;
      this.outstanding += accepted.length;
      this.context.totals.accepted += accepted.length;
      this.context.tenants.spend(this.tenant, accepted.length);
      metrics.observations.inc({ memory_space: this.space.id, priority: 'normal' }, accepted.length);
      this.context.queued(this.space.id);
    }
    this.send({ acks: { acks: acks.acks, inReplyTo: batch.batchId } });
    this.reportPressure();
  }

  /** How many observations may be accepted now, and what to say to the rest. */
  private budget(requested: number): { count: number; refusal: Rejection } {
    const { queue, tenants, directory } = this.context;
    if (!this.context.accepting()) {
      return { count: 0, refusal: { code: 'REJECT_SHUTTING_DOWN', reason: 'the engine is shutting down; reconnect to another engine', retryAfterMs: 1000 } };
    }
    let count = requested;
    let refusal: Rejection = { code: 'REJECT_BACKPRESSURE', reason: '', retryAfterMs: 0 };
    const free = queue.free;
    if (free < count) {
      count = free;
      refusal = {
        code: 'REJECT_BACKPRESSURE',
        reason: `queue full (${queue.depth} of ${queue.observationCapacity}); resend from this sequence after retry_after_ms`,
        retryAfterMs: Math.max(1, retryAfterMs(queue.depth, this.context.drainRate())),
      };
    }
    const rate = tenants.checkRate(this.tenant, count);
    if (rate.allowed < count) {
      count = rate.allowed;
      refusal = {
        code: 'REJECT_RATE_LIMITED',
        reason: `tenant '${this.tenant.name}' is limited to ${this.tenant.rateLimit} observations/s`,
        retryAfterMs: rate.retryAfterMs,
      };
    }
    if (this.tenant.maxVectors > 0) {
      const used = directory.usage(this.tenant.name).vectors;
      const left = Math.max(0, this.tenant.maxVectors - used);
      if (left < count) {
        count = left;
        refusal = {
          code: 'REJECT_QUOTA_EXCEEDED',
          reason: `tenant '${this.tenant.name}' stores ${used} of its ${this.tenant.maxVectors} vectors`,
          retryAfterMs: 0,
        };
      }
    }
    return { count, refusal };
  }

  private countRejected(reason: string, count: number): void {
    if (count <= 0) return;
    this.context.totals.rejected += count;
    const label = reason.replace(/^REJECT_/, '').toLowerCase();
    this.context.metrics.rejected.inc({ memory_space: this.space.id, reason: label }, count);
    if (label === 'rate_limited' || label === 'quota_exceeded') {
      this.context.metrics.tenantRejected.inc({ tenant: this.tenant.name, reason: label }, count);
    }
  }

  /** IndexSink: observations first..last of this session are searchable. */
  indexed(first: number, last: number): void {
    const count = last - first + 1;
    this.outstanding -= count;
    this.indexedThrough = Math.max(this.indexedThrough, last);
    if (!this.closed) {
      this.send({ acks: { inReplyTo: 0, acks: [{ status: 'INDEXED', firstSequence: first, lastSequence: last, code: 'REJECT_CODE_UNSPECIFIED', reason: '', retryAfterMs: 0 }] } });
    }
    this.checkDrained();
  }

  /** IndexSink: an accepted observation could not be indexed. */
  failed(sequence: number, reason: string): void {
    this.outstanding--;
    this.countRejected('index_failed', 1);
    if (!this.closed) {
      this.send({ acks: { inReplyTo: 0, acks: [{ status: 'REJECTED', firstSequence: sequence, lastSequence: sequence, code: 'REJECT_INDEX_FAILED', reason, retryAfterMs: 0 }] } });
    }
    this.checkDrained();
  }

  /** Tells the client when the pressure level changes (called after each batch and by a ticker). */
  reportPressure(): void {
    const { queue, metrics } = this.context;
    const level = pressureLevel(queue.pressure);
    if (level === this.level || this.closed) return;
    const rising = level > this.level;
    this.level = level;
    metrics.backpressureState.set({ memory_space: this.space.id }, level);
    if (rising) metrics.backpressureActivations.inc({ memory_space: this.space.id, level: LEVEL_NAMES[level] });
    const retry = level >= PressureLevel.CRITICAL ? retryAfterMs(queue.depth, this.context.drainRate()) : 0;
    this.send({ status: this.status(LEVEL_STATES[level], retry) });
    if (!this.honoursBackpressure) return;
    if (level >= PressureLevel.CRITICAL) {
      this.paused = true;
      this.send({ flow: { action: 'PAUSE', suggestedRate: 0, retryAfterMs: retry } });
    } else if (level === PressureLevel.WARNING) {
      this.send({ flow: { action: 'SLOW_DOWN', suggestedRate: Math.round(this.context.drainRate()), retryAfterMs: 0 } });
    } else {
      this.send({ flow: { action: this.paused ? 'RESUME' : 'SPEED_UP', suggestedRate: 0, retryAfterMs: 0 } });
      this.paused = false;
    }
  }

  private status(state: StreamState, retry: number, message = ''): ServerMessage['status'] {
    const { queue } = this.context;
    return {
      state, queueDepth: queue.depth, queueCapacity: queue.observationCapacity, pressure: queue.pressure,
      level: LEVEL_PROTO[pressureLevel(queue.pressure)], retryAfterMs: retry, message, indexedThrough: this.indexedThrough,
    };
  }

  /** Resolves when everything accepted on this session is indexed (or failed). */
  drained(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.drainWaiter = resolve;
    });
  }

  private checkDrained(): void {
    if (this.outstanding === 0 && this.drainWaiter) {
      this.drainWaiter();
      this.drainWaiter = null;
    }
  }

  /** Sends the final CLOSED status; later acks are dropped (the observations are still indexed). */
  close(message: string): void {
    if (this.closed) return;
    this.send({ status: this.status('CLOSED', 0, message) });
    this.closed = true;
  }
}
