// One client's observation stream: strict sequence numbers, validation, admission against the
// queue, the tenant's rate limit and quota, and every ack and pressure signal the client gets.
// Retryable refusals (backpressure, rate, shutdown, storage, memory) never consume a sequence
// number: the client resends from the first refused one and succeeds. A quota refusal is final
// for its observation and consumes its number, as an invalid observation does. An observation is
// ACCEPTED only once the engine has it durably (in the write-ahead log under its sync policy);
// replies go out in the order their batches arrived.
import { performance } from 'node:perf_hooks';
import type { EngineConfig, TenantConfig } from '../config/engine-config.js';
import type { ObservationBatch__Output } from '../generated/engram/v1/ObservationBatch.js';
import type { ServerMessage } from '../generated/engram/v1/ServerMessage.js';
import type { StreamState } from '../generated/engram/v1/StreamState.js';
import type { EngineMetrics } from '../metrics/engine-metrics.js';
import type { IndexSink, IngestQueue, QueuedObservation } from '../queue/ingest-queue.js';
import { LEVEL_NAMES, PressureLevel, pressureLevel, retryAfterMs } from '../queue/pressure.js';
import type { SpaceDirectory, SpaceRecord } from '../tenancy/space-directory.js';
import type { RateDecision, Tenants } from '../tenancy/tenants.js';
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
  /** Why observations cannot be made durable now (data directory full or unwritable), or null. */
  storageUnavailable(): string | null;
  /** Observations each honouring stream may have in the engine at once (see `streamWindow`). */
  streamWindow(): number;
  /** Why the engine is too close to its memory limit to take more, or null. */
  memoryPressure(): string | null;
  /** Why writes to the space must wait (it is being handed to another pod), or null. */
  writeRefusal(space: string): string | null;
  /** Makes admitted observations durable (sets their LSNs); rejects if storage fails. */
  persist(items: QueuedObservation[]): Promise<void>;
}

type Outcome = { sequence: number; rejection: Rejection | null };

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
  /** The window last sent to the client (0 = none yet). */
  private window = 0;
  private closed = false;
  private drainWaiter: (() => void) | null = null;
  private readonly tenant: TenantConfig;
  /** Each batch's reply waits for the one before it (and for its own log commit). */
  private replies: Promise<void> = Promise.resolve();

  constructor(
    readonly id: string,
    private readonly space: SpaceRecord,
    private readonly honoursBackpressure: boolean,
    private readonly context: SessionContext,
    private readonly send: (message: ServerMessage) => void,
    /** Ends the call (with OK) once CLOSED is sent. */
    private readonly end: () => void = () => undefined,
  ) {
    this.tenant = context.tenants.tenantOf(space.id);
    // The space's pressure counters exist at 0 from its first session: increase() over a series
    // that appears with its first event misses that event, and alerts are built on increase().
    for (const level of LEVEL_NAMES.slice(1)) context.metrics.backpressureActivations.inc({ memory_space: space.id, level }, 0);
  }

  get spaceId(): string {
    return this.space.id;
  }

  get tenantName(): string {
    return this.tenant.name;
  }

  /**
   * Takes the tenant's tokens for a batch of `count` before it is observed: those it may send, how
   * long they wait for them (the caller holds the batch and reads nothing more meanwhile), and when
   * the rest may come back.
   */
  reserveRate(count: number): RateDecision {
    return this.context.tenants.reserveRate(this.tenant, count);
  }

  /**
   * Tells a client that honours backpressure its tenant is over its rate (a batch of it waits for
   * tokens): it narrows its window, so what it has in flight, parsed and held here, stays small.
   */
  slowToRate(): void {
    if (!this.honoursBackpressure || this.closed) return;
    this.send({ flow: { action: 'SLOW_DOWN', suggestedRate: Math.round(this.context.tenants.localRate(this.tenant)), retryAfterMs: 0 } });
  }

  /** Gives back tokens reserved for a batch that is never observed (its stream ended while it waited). */
  forgoRate(rate: RateDecision): void {
    this.context.tenants.refund(this.tenant, rate.allowed);
  }

  /**
   * Admits what it can of one batch (within `rate`, the tokens reserved for it), makes it durable,
   * acks every observation in it, then reports pressure.
   */
  observe(batch: ObservationBatch__Output, rate: RateDecision): void {
    const hnsw = this.context.config().hnsw;
    const outcomes: Outcome[] = [];
    const accepted: QueuedObservation[] = [];
    const budget = this.budget(batch.observations.length, rate);
    /** A retryable refusal covers the rest of the batch: the client resends from its first sequence. */
    let retryLater: Rejection | null = null;
    let refused = 0;
    const now = performance.now();

    for (const o of batch.observations) {
      const sequence = o.sequence;
      if (retryLater) {
        outcomes.push({ sequence, rejection: retryLater });
        refused++;
        continue;
      }
      const wrong = this.sequenceProblem(sequence);
      if (wrong) {
        // a number past 2^53 - 1 cannot be echoed exactly: its ack says 0
        outcomes.push({ sequence: Number.isSafeInteger(sequence) ? sequence : 0, rejection: wrong });
        continue;
      }
      const decoded = decodeObservation(o, hnsw);
      if (!decoded.ok) {
        outcomes.push({ sequence, rejection: { code: 'REJECT_INVALID_OBSERVATION', reason: decoded.reason, retryAfterMs: 0 } });
        this.countRejected('invalid', 1);
        this.nextSequence++;
        continue;
      }
      if (accepted.length >= budget.count) {
        outcomes.push({ sequence, rejection: budget.refusal });
        if (budget.final) {
          // final for this observation (over quota): its number is consumed, the next one is judged on its own
          this.countRejected(String(budget.refusal.code), 1);
          this.nextSequence++;
        } else {
          retryLater = budget.refusal;
          refused++;
        }
        continue;
      }
      accepted.push({
        space: this.space.id, id: decoded.id, sequence, sink: this, vector: decoded.vector,
        content: decoded.content, metadata: decoded.metadata, acceptedAt: now, lsn: 0,
      });
      outcomes.push({ sequence, rejection: null });
      this.nextSequence++;
    }
    if (retryLater) this.countRejected(String(retryLater.code), refused);
    // tokens reserved for observations refused for another reason (queue, quota, invalid) go back
    this.context.tenants.refund(this.tenant, rate.allowed - accepted.length);
    const durable = accepted.length > 0 ? this.admit(accepted) : Promise.resolve();
    // Handled below once the previous reply is out; mark it handled now so an early failure is not
    // reported as an unhandled rejection meanwhile.
    durable.catch(() => undefined);
    const reply = this.replies.then(() => durable).then(
      () => this.committed(accepted),
      (e: unknown) => this.notCommitted(accepted, e, outcomes),
    ).then(() => this.reply(batch.batchId, outcomes));
    this.replies = reply.catch(() => undefined);
  }

  /** Why `sequence` is not the one this session expects next (nothing is consumed), or null. */
  private sequenceProblem(sequence: number): Rejection | null {
    if (sequence === this.nextSequence) return null;
    const expected = `expected ${this.nextSequence}`;
    if (!Number.isSafeInteger(sequence)) {
      // uint64 values past 2^53 - 1 arrive rounded: say what is wrong without printing a wrong number
      return { code: 'REJECT_SEQUENCE_GAP', reason: `sequence is above ${Number.MAX_SAFE_INTEGER} (2^53 - 1), the largest this engine takes; ${expected}`, retryAfterMs: 0 };
    }
    if (sequence === 0) return { code: 'REJECT_SEQUENCE_GAP', reason: `sequence 0 is not a sequence number: they start at 1; ${expected}`, retryAfterMs: 0 };
    const duplicate = sequence < this.nextSequence;
    return {
      code: duplicate ? 'REJECT_SEQUENCE_DUPLICATE' : 'REJECT_SEQUENCE_GAP',
      reason: `sequence ${sequence} ${duplicate ? 'was already used' : 'skips ahead'}; ${expected}`,
      retryAfterMs: 0,
    };
  }

  /** Holds queue slots and quota for admitted observations while the log writes them. */
  private admit(accepted: QueuedObservation[]): Promise<void> {
    this.context.queue.reserve(accepted.length);
    this.space.pending += accepted.length;
    this.outstanding += accepted.length;
    return this.context.persist(accepted);
  }

  private committed(accepted: QueuedObservation[]): void {
    if (accepted.length === 0) return;
    this.context.queue.push(this.space.id, accepted, accepted.length);
    this.context.totals.accepted += accepted.length;
    this.context.metrics.observations.inc({ memory_space: this.space.id, priority: 'normal' }, accepted.length);
    this.context.metrics.tenantObservations.inc({ tenant: this.tenant.name }, accepted.length);
    this.context.queued(this.space.id);
  }

  /**
   * The log could not take them: they are refused as retryable and their sequence numbers are
   * given back (every later append fails too while storage is down, so nothing after them stands).
   */
  private notCommitted(accepted: QueuedObservation[], e: unknown, outcomes: Outcome[]): void {
    const n = accepted.length;
    this.context.queue.release(n);
    this.space.pending -= n;
    this.outstanding -= n;
    const rejection: Rejection = {
      code: 'REJECT_STORAGE_UNAVAILABLE', reason: e instanceof Error ? e.message : String(e), retryAfterMs: 1000,
    };
    for (const outcome of outcomes) if (outcome.rejection === null) outcome.rejection = rejection;
    this.nextSequence = Math.min(this.nextSequence, (accepted[0] as QueuedObservation).sequence);
    this.countRejected('storage_unavailable', n);
    this.checkDrained();
  }

  private reply(batchId: number, outcomes: Outcome[]): void {
    const acks = new AckRanges();
    for (const { sequence, rejection } of outcomes) {
      if (rejection) acks.rejected(sequence, rejection);
      else acks.accepted(sequence);
    }
    if (!this.closed) this.send({ acks: { acks: acks.acks, inReplyTo: batchId } });
    this.reportPressure();
  }

  /**
   * How many observations may be accepted now, and what to say to the rest: a retryable refusal
   * (resend from the first refused sequence after retry_after_ms), or a final one (over quota:
   * each refused observation's number is consumed).
   */
  private budget(requested: number, rate: RateDecision): { count: number; refusal: Rejection; final: boolean } {
    const { queue, tenants, directory } = this.context;
    const retry = (refusal: Rejection) => ({ count: 0, refusal, final: false });
    if (!this.context.accepting()) {
      return retry({ code: 'REJECT_SHUTTING_DOWN', reason: 'the engine is shutting down; reconnect to another engine', retryAfterMs: 1000 });
    }
    const moving = this.context.writeRefusal(this.space.id);
    if (moving) return retry({ code: 'REJECT_SPACE_MOVING', reason: moving, retryAfterMs: 200 });
    const storage = this.context.storageUnavailable();
    if (storage) return retry({ code: 'REJECT_STORAGE_UNAVAILABLE', reason: storage, retryAfterMs: 1000 });
    const memory = this.context.memoryPressure();
    if (memory) return retry({ code: 'REJECT_MEMORY_PRESSURE', reason: memory, retryAfterMs: 1000 });
    let count = requested;
    let refusal: Rejection = { code: 'REJECT_BACKPRESSURE', reason: '', retryAfterMs: 0 };
    let final = false;
    const free = queue.free;
    if (free < count) {
      count = free;
      refusal = {
        code: 'REJECT_BACKPRESSURE',
        reason: `the queue has room for ${free} of this batch's ${requested} observations (${queue.depth} queued and ${queue.reservedSlots} being logged, of ${queue.observationCapacity}); resend from this sequence after retry_after_ms`,
        retryAfterMs: this.drainRetryMs(),
      };
    }
    if (rate.allowed < count) {
      count = rate.allowed;
      refusal = {
        code: 'REJECT_RATE_LIMITED',
        reason: tenants.pods > 1
          ? `tenant '${this.tenant.name}' is limited to ${this.tenant.rateLimit} observations/s across the stream (${Number(tenants.localRate(this.tenant).toFixed(1))}/s on each of its ${tenants.pods} pods); tokens for the rest of this batch come in retry_after_ms`
          : `tenant '${this.tenant.name}' is limited to ${this.tenant.rateLimit} observations/s; tokens for the rest of this batch come in retry_after_ms`,
        retryAfterMs: rate.retryAfterMs,
      };
    }
    if (this.tenant.maxVectors > 0) {
      const used = directory.streamUsage(this.tenant.name).vectors;
      const left = Math.max(0, this.tenant.maxVectors - used);
      if (left < count) {
        count = left;
        refusal = {
          code: 'REJECT_QUOTA_EXCEEDED',
          reason: `tenant '${this.tenant.name}' stores ${used} of its ${this.tenant.maxVectors} vectors; this observation is refused for good (raise maxVectors to store more)`,
          retryAfterMs: 0,
        };
        final = true;
      }
    }
    return { count, refusal, final };
  }

  /** How long the queue takes to drain to half full (its warning level) at the measured rate. */
  private drainRetryMs(): number {
    const { queue } = this.context;
    return retryAfterMs(queue.depth - queue.observationCapacity / 2, this.context.drainRate());
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

  /** The window the init ack gives a client that honours backpressure (0 = none): later changes come by `reportWindow`. */
  firstWindow(): number {
    if (!this.honoursBackpressure) return 0;
    this.window = this.context.streamWindow();
    return this.window;
  }

  /** Sends the client its window when its share of the queue has changed (clients that honour backpressure only). */
  reportWindow(): void {
    if (!this.honoursBackpressure || this.closed) return;
    const window = this.context.streamWindow();
    if (window === this.window) return;
    this.window = window;
    this.send({ flow: { action: 'SET_WINDOW', suggestedRate: 0, retryAfterMs: 0, window } });
  }

  /** Tells the client its window and when the pressure level changes (called after each batch and by a ticker). */
  reportPressure(): void {
    this.reportWindow();
    const { queue, metrics } = this.context;
    const level = pressureLevel(queue.pressure);
    if (level === this.level || this.closed) return;
    const rising = level > this.level;
    this.level = level;
    metrics.backpressureState.set({ memory_space: this.space.id }, level);
    if (rising) metrics.backpressureActivations.inc({ memory_space: this.space.id, level: LEVEL_NAMES[level] });
    const retry = level >= PressureLevel.CRITICAL ? this.drainRetryMs() : 0;
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

  /** Resolves when every reply is sent and everything accepted on this session is indexed (or failed). */
  async drained(): Promise<void> {
    await this.replies;
    if (this.outstanding === 0) return;
    await new Promise<void>((resolve) => {
      this.drainWaiter = resolve;
    });
  }

  private checkDrained(): void {
    if (this.outstanding === 0 && this.drainWaiter) {
      this.drainWaiter();
      this.drainWaiter = null;
    }
  }

  /**
   * Sends the final CLOSED status and ends the call with OK; later acks are dropped (the
   * observations are still indexed).
   */
  close(message: string): void {
    if (this.closed) return;
    this.send({ status: this.status('CLOSED', 0, message) });
    this.closed = true;
    this.end();
  }
}
