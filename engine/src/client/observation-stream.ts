// A backpressure-aware observation stream. The caller `send`s observations; the stream numbers
// them, batches them, keeps every one until the engine ACCEPTS it, and on a retryable refusal
// (backpressure, rate limit, quota, shutdown) or a sequence gap goes back to the first refused one
// and resends from there after the retry-after the engine suggested ("go-back-N"). A PAUSE from
// the engine stops sending until RESUME (or its retry-after passes). How much is on the wire is
// governed like TCP's congestion window: halved on every refusal or SLOW_DOWN, grown by about one
// batch per window of accepted observations, so a small queue is not flooded with resends.
import { EventEmitter } from 'node:events';
import type * as grpc from '@grpc/grpc-js';
import type { Ack__Output } from '../generated/engram/v1/Ack.js';
import type { ClientMessage } from '../generated/engram/v1/ClientMessage.js';
import type { FlowControl__Output } from '../generated/engram/v1/FlowControl.js';
import type { Observation } from '../generated/engram/v1/Observation.js';
import type { ServerMessage__Output } from '../generated/engram/v1/ServerMessage.js';
import type { StreamInitAck__Output } from '../generated/engram/v1/StreamInitAck.js';
import type { StreamStatus__Output } from '../generated/engram/v1/StreamStatus.js';
import { encodeVector } from '../wire/vector-codec.js';

export interface ObservationInput {
  id: string;
  embedding: Float32Array | number[];
  content?: string;
  metadata?: Record<string, string>;
  timestampMs?: number;
}

export interface StreamCounts {
  sent: number;
  accepted: number;
  indexed: number;
  /** Finally refused (invalid observations, index failures). */
  rejected: number;
  /** Sent again after a retryable refusal. */
  resent: number;
  /** Retryable refusals received, by code. */
  refusals: Record<string, number>;
}

/** Final refusals that use up their sequence numbers: the next observation goes on from there. */
const CONSUMES_SEQUENCE = new Set(['REJECT_INVALID_OBSERVATION', 'REJECT_QUOTA_EXCEEDED']);
const RETRYABLE = new Set(['REJECT_BACKPRESSURE', 'REJECT_RATE_LIMITED', 'REJECT_SHUTTING_DOWN', 'REJECT_STORAGE_UNAVAILABLE', 'REJECT_MEMORY_PRESSURE', 'REJECT_SEQUENCE_GAP', 'REJECT_SPACE_MOVING']);
const MAX_PAUSE_MS = 2000;
/** The congestion window's floor and its additive step, in observations. */
const WINDOW_STEP = 16;
/**
 * How long a batch may go unanswered before the stream gives up on it. The engine answers every
 * batch (accepted or refused) once its log has it: a rate-limited batch waits 2 s at most, a log
 * sync well under a second. A batch with no answer for this long is held by an engine that will
 * not answer it; the caller resends on a new stream (a resent observation is an upsert by id).
 */
export const DEFAULT_REPLY_TIMEOUT_MS = 30_000;

/** What a stream holds and what its next send waits for: to tell a slow stream from a stuck one. */
export interface StreamState {
  /** Observations given to `send` and not yet accepted (sent or not). */
  unaccepted: number;
  /** Of those, put on the wire and not answered yet. */
  onTheWire: number;
  /** Accepted and not yet indexed (nor failed to index). */
  unindexed: number;
  /** The engine's window for this stream (sent and not indexed), null until it sets one. */
  engineWindow: number | null;
  /** The congestion window (observations on the wire beyond the last accepted one). */
  sendWindow: number;
  /**
   * Why nothing more goes on the wire: 'nothing' (it is going), 'acceptance' (all sent, the caller
   * waits for acks), 'engine window' (INDEXED acks to free it), 'congestion window' (ACCEPTED acks
   * to grow it), 'pause' (the engine asked, or a refusal's retry-after), 'transport' (gRPC's buffer
   * is full until the engine reads), 'failed'.
   */
  waitingFor: 'nothing' | 'acceptance' | 'engine window' | 'congestion window' | 'pause' | 'transport' | 'failed';
  /** Batches on the wire the engine has not answered at all (what the reply timeout watches). */
  unansweredBatches: number;
  /**
   * The last ack received and how long ago: with observations on the wire and no unanswered batch,
   * it says how the engine answered them (a refusal from an earlier wave is ignored: `stale`).
   */
  lastAck: { status: string; code: string; firstSequence: number; lastSequence: number; stale: boolean; msAgo: number } | null;
}

interface Pending {
  sequence: number;
  wire: Observation;
}

interface StreamEvents {
  /** Finally refused: the observation is dropped (invalid, or failed to index). */
  rejected: [ack: Ack__Output];
  /** Refused for now (backpressure, rate, quota, gap): the stream resends it by itself. */
  refused: [ack: Ack__Output];
  status: [status: StreamStatus__Output];
  progress: [counts: StreamCounts];
  /** Every ack range as it arrives (for latency measurement). */
  ack: [ack: Ack__Output];
  flow: [flow: FlowControl__Output];
  error: [error: Error];
}

export class ObservationStream extends EventEmitter<StreamEvents> {
  readonly counts: StreamCounts = { sent: 0, accepted: 0, indexed: 0, rejected: 0, resent: 0, refusals: {} };
  /** Unaccepted observations in sequence order; window[0] has sequence `base`. */
  private window: Pending[] = [];
  private base = 1;
  private nextSequence = 1;
  /** Index into window of the next observation to put on the wire. */
  private cursor = 0;
  /** Highest sequence ever put on the wire (to count resends). */
  private highestSent = 0;
  private wave = 0;
  /** Observations allowed on the wire beyond the last accepted one (AIMD congestion window). */
  private sendWindow: number;
  /**
   * Observations the engine lets this stream have in it at once, sent and not yet indexed (its
   * SET_WINDOW; unbounded until it says). Keeping to it, the stream is not refused for a full queue.
   */
  private engineWindow = Number.POSITIVE_INFINITY;
  /** Accepted and not yet indexed (nor failed to index): what this stream holds of the engine's queue. */
  private unindexed = 0;
  /** Batches on the wire and not answered, oldest first: the wave each was sent in, and when. */
  private readonly unanswered = new Map<number, { wave: number; sentAt: number }>();
  private readonly replyWatch: NodeJS.Timeout | null;
  private nextBatchId = 1;
  private pausedUntil = 0;
  private resumeTimer: NodeJS.Timeout | null = null;
  private flushScheduled = false;
  private writable = true;
  private spaceWaiters: Array<() => void> = [];
  private settledWaiters: Array<() => void> = [];
  private ended: Promise<void>;
  private failure: Error | null = null;
  private closing = false;
  lastStatus: StreamStatus__Output | null = null;
  private lastAck: { ack: Ack__Output; stale: boolean; at: number } | null = null;

  constructor(
    private readonly call: grpc.ClientDuplexStream<ClientMessage, ServerMessage__Output>,
    readonly init: StreamInitAck__Output,
    private readonly maxBatch: number,
    private readonly maxInFlight: number,
    private readonly replyTimeoutMs = DEFAULT_REPLY_TIMEOUT_MS,
  ) {
    super();
    this.sendWindow = maxInFlight;
    this.replyWatch = replyTimeoutMs > 0 ? setInterval(() => this.checkReplies(), Math.min(1000, replyTimeoutMs / 4)) : null;
    this.replyWatch?.unref();
    if (init.capabilities?.streamWindow) this.engineWindow = init.capabilities.streamWindow;
    this.ended = new Promise((resolve) => {
      call.on('end', () => {
        this.stopWatching();
        // The engine ended the stream without being asked (it stopped, or the space moved to
        // another pod): what is not accepted yet must be sent again on a new stream. The stream
        // fails even when it holds nothing, or its next `send` would go into a finished call that
        // nobody reads, and wait for an answer forever.
        // (after an error status the error, with its code, is the failure: not replaced by this)
        if (!this.closing && !this.failure) {
          this.failure = new Error(`the engine ended the stream: ${this.lastStatus?.message || 'no reason given'}`);
          this.wakeAll();
        }
        resolve();
      });
      call.on('error', (e: Error) => {
        this.stopWatching();
        this.failure ??= e;
        this.wakeAll();
        if (this.listenerCount('error') > 0) this.emit('error', this.failure);
        resolve();
      });
    });
    call.on('data', (m: ServerMessage__Output) => this.receive(m));
    call.on('drain', () => {
      this.writable = true;
      this.pump();
    });
  }

  get sessionId(): string {
    return this.init.sessionId;
  }

  state(): StreamState {
    return {
      unaccepted: this.window.length, onTheWire: this.cursor, unindexed: this.unindexed,
      engineWindow: Number.isFinite(this.engineWindow) ? this.engineWindow : null, sendWindow: this.sendWindow,
      waitingFor: this.waitingFor(),
      unansweredBatches: this.unanswered.size,
      lastAck: this.lastAck && {
        status: String(this.lastAck.ack.status), code: String(this.lastAck.ack.code),
        firstSequence: Number(this.lastAck.ack.firstSequence), lastSequence: Number(this.lastAck.ack.lastSequence),
        stale: this.lastAck.stale, msAgo: Date.now() - this.lastAck.at,
      },
    };
  }

  /** The first condition in `pump` that keeps the next unsent observation off the wire. */
  private waitingFor(): StreamState['waitingFor'] {
    if (this.failure) return 'failed';
    if (this.cursor >= this.window.length) return this.window.length >= this.maxInFlight ? 'acceptance' : 'nothing';
    if (!this.writable) return 'transport';
    if (Date.now() < this.pausedUntil) return 'pause';
    if (this.cursor >= this.engineWindow - this.unindexed) return 'engine window';
    if (this.cursor >= this.sendWindow) return 'congestion window';
    return 'nothing';
  }

  /** Ids sent (or waiting to be) that the engine has not accepted: to send again after the stream fails. */
  unacceptedIds(): string[] {
    return this.window.map((p) => p.wire.id as string);
  }

  /** Queues one observation; waits while `maxInFlight` observations are unaccepted. */
  async send(o: ObservationInput): Promise<void> {
    while (this.window.length >= this.maxInFlight) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    }
    if (this.failure) throw this.failure;
    this.window.push({
      sequence: this.nextSequence++,
      wire: {
        id: o.id, embedding: encodeVector(o.embedding), content: o.content ?? '', metadata: o.metadata ?? {},
        timestampMs: o.timestampMs ?? Date.now(), sequence: 0,
      },
    });
    if (this.window.length - this.cursor >= this.maxBatch) this.pump();
    else this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.pump();
    });
  }

  /** Puts unsent observations on the wire in batches, unless paused or grpc's buffer is full. */
  private pump(): void {
    for (;;) {
      // on the wire and not yet accepted (`cursor`) and accepted but not indexed both count against the engine's window
      const end = Math.min(this.window.length, this.sendWindow, this.engineWindow - this.unindexed, this.cursor + this.maxBatch);
      if (this.cursor >= end || !this.writable || Date.now() < this.pausedUntil || this.failure) return;
      const slice = this.window.slice(this.cursor, end);
      this.cursor += slice.length;
      const batchId = this.nextBatchId++;
      this.unanswered.set(batchId, { wave: this.wave, sentAt: Date.now() });
      for (const p of slice) {
        p.wire.sequence = p.sequence;
        if (p.sequence <= this.highestSent) this.counts.resent++;
        else this.counts.sent++;
        this.highestSent = Math.max(this.highestSent, p.sequence);
      }
      this.writable = this.call.write({ observations: { batchId, observations: slice.map((p) => p.wire) } });
    }
  }

  private receive(m: ServerMessage__Output): void {
    if (m.acks) {
      const wave = m.acks.inReplyTo ? this.unanswered.get(m.acks.inReplyTo)?.wave : undefined;
      if (m.acks.inReplyTo) this.unanswered.delete(m.acks.inReplyTo);
      for (const ack of m.acks.acks) {
        const currentWave = wave === this.wave;
        this.lastAck = { ack, stale: !currentWave && ack.status === 'REJECTED' && RETRYABLE.has(String(ack.code)), at: Date.now() };
        this.handleAck(ack, currentWave);
        this.emit('ack', ack);
      }
      this.emit('progress', this.counts);
      this.wakeAll();
      this.pump(); // accepted acks open the congestion window
    } else if (m.status) {
      this.lastStatus = m.status;
      this.emit('status', m.status);
    } else if (m.flow) {
      this.emit('flow', m.flow);
      if (m.flow.action === 'SET_WINDOW') {
        this.engineWindow = m.flow.window > 0 ? m.flow.window : Number.POSITIVE_INFINITY;
        this.pump();
      }
      if (m.flow.action === 'SLOW_DOWN') this.shrinkWindow();
      if (m.flow.action === 'PAUSE') this.pauseFor(m.flow.retryAfterMs > 0 ? Math.min(m.flow.retryAfterMs, MAX_PAUSE_MS) : MAX_PAUSE_MS);
      else if (m.flow.action === 'RESUME' || m.flow.action === 'SPEED_UP') this.pauseFor(0);
    }
  }

  private handleAck(ack: Ack__Output, currentWave: boolean): void {
    const first = Number(ack.firstSequence);
    const last = Number(ack.lastSequence);
    const n = last - first + 1;
    if (ack.status === 'INDEXED') {
      this.counts.indexed += n;
      this.unindexed = Math.max(0, this.unindexed - n);
      return;
    }
    if (ack.status === 'ACCEPTED') {
      this.counts.accepted += n;
      this.unindexed += n;
      this.settle(last);
      this.sendWindow = Math.min(this.maxInFlight, this.sendWindow + Math.ceil((n * WINDOW_STEP) / this.sendWindow));
      return;
    }
    if (!RETRYABLE.has(String(ack.code))) {
      // Final: invalid, over quota, index failure, or a duplicate (already resolved).
      this.counts.rejected += ack.code === 'REJECT_SEQUENCE_DUPLICATE' ? 0 : n;
      if (ack.code === 'REJECT_INDEX_FAILED') this.unindexed = Math.max(0, this.unindexed - n); // accepted before
      if (CONSUMES_SEQUENCE.has(String(ack.code))) this.settle(last);
      this.emit('rejected', ack);
      return;
    }
    const code = String(ack.code);
    this.counts.refusals[code] = (this.counts.refusals[code] ?? 0) + n;
    this.emit('refused', ack);
    if (currentWave) {
      this.shrinkWindow();
      this.goBack(first, ack.retryAfterMs);
    }
  }

  private shrinkWindow(): void {
    this.sendWindow = Math.max(WINDOW_STEP, Math.floor(this.sendWindow / 2));
  }

  /** Observations up to `sequence` are resolved: drop them from the window. */
  private settle(sequence: number): void {
    const drop = Math.min(this.window.length, sequence - this.base + 1);
    if (drop <= 0) return;
    this.window.splice(0, drop);
    this.base += drop;
    this.cursor = Math.max(0, this.cursor - drop);
  }

  /** Resend everything from `sequence` after `delayMs`; later replies to earlier sends are stale. */
  private goBack(sequence: number, delayMs: number): void {
    this.wave++;
    this.cursor = Math.max(0, sequence - this.base);
    this.pauseFor(delayMs);
  }

  /**
   * Ends the stream when its oldest unanswered batch has waited past the reply timeout: without
   * this a writer whose engine holds a batch and never answers would wait forever, with nothing to
   * say why. The call is cancelled; `send`, `settled` and `close` throw this error.
   */
  private checkReplies(): void {
    const oldest = this.unanswered.entries().next();
    if (oldest.done || this.failure) return;
    const [batchId, { sentAt }] = oldest.value;
    const waited = Date.now() - sentAt;
    if (waited < this.replyTimeoutMs) return;
    this.failure = new Error(
      `the engine did not answer batch ${batchId} in ${(waited / 1000).toFixed(0)} s (stream state ${JSON.stringify(this.state())}); the stream is cancelled: send its unaccepted observations again on a new stream`,
    );
    this.stopWatching();
    this.wakeAll();
    this.call.cancel();
  }

  private stopWatching(): void {
    if (this.replyWatch) clearInterval(this.replyWatch);
  }

  private pauseFor(ms: number): void {
    this.pausedUntil = Date.now() + ms;
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => {
      // Timers and Date.now() run on different clocks: end the pause here, never compare again.
      this.resumeTimer = null;
      this.pausedUntil = 0;
      this.pump();
    }, ms);
  }

  /** Wakes writers waiting for room, and those waiting for everything to settle once it has or the stream failed. */
  private wakeAll(): void {
    const settledToo = this.window.length === 0 || this.failure !== null;
    const waiters = this.spaceWaiters.concat(settledToo ? this.settledWaiters : []);
    this.spaceWaiters = [];
    if (settledToo) this.settledWaiters = [];
    for (const w of waiters) w();
  }

  /** Waits until every observation sent so far is accepted or finally refused. */
  async settled(): Promise<void> {
    this.pump();
    while (this.window.length > 0) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => this.settledWaiters.push(resolve));
    }
  }

  /**
   * Settles everything, then closes. With `drain` the engine first indexes everything accepted on
   * this stream, so on return `counts.indexed` covers every accepted observation.
   */
  async close(options: { drain?: boolean } = {}): Promise<StreamCounts> {
    await this.settled();
    this.closing = true;
    this.call.write({ close: { drain: options.drain ?? true } });
    this.call.end();
    await this.ended;
    this.stopWatching();
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    if (this.failure) throw this.failure;
    return this.counts;
  }

  /** Abandons the stream at once (what a crashing client does). */
  cancel(): void {
    this.stopWatching();
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.call.cancel();
  }
}
