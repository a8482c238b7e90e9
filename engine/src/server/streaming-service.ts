// The Streaming service: the bidirectional observation stream (one session per call), Recall and Fetch.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type * as grpc from '@grpc/grpc-js';
import type { Engine } from '../engine.js';
import { EngramError, quote, toEngramError } from '../errors.js';
import type { ClientMessage__Output } from '../generated/engram/v1/ClientMessage.js';
import type { ObservationBatch__Output } from '../generated/engram/v1/ObservationBatch.js';
import type { FetchRequest__Output } from '../generated/engram/v1/FetchRequest.js';
import type { FetchResponse } from '../generated/engram/v1/FetchResponse.js';
import type { RecallRequest__Output } from '../generated/engram/v1/RecallRequest.js';
import type { RecallResponse } from '../generated/engram/v1/RecallResponse.js';
import type { ServerMessage } from '../generated/engram/v1/ServerMessage.js';
import type { StreamingHandlers } from '../generated/engram/v1/Streaming.js';
import { ObserveSession } from '../session/observe-session.js';
import { validateSpaceId } from '../tenancy/space-directory.js';
import { checkComparable, decodeVector, encodeVector } from '../wire/vector-codec.js';
import type { Peers } from '../handoff/peers.js';
import { forwardUnary, remoteOwner, StreamProxy } from './forwarding.js';
import { respond, toServiceError } from './grpc-errors.js';
import { malformedRequestError } from './malformed-request.js';
import { principalOf } from './authentication.js';
import { checkSpace } from '../auth/access.js';

type StreamCall = grpc.ServerDuplexStream<ClientMessage__Output, ServerMessage>;

export interface StreamingLimits {
  maxMessageBytes: number;
  /** The most observations the engine takes in one ObservationBatch. */
  maxBatch: number;
}

const MAX_K = 1000;

export function streamingHandlers(engine: Engine, limits: StreamingLimits, peers: Peers): StreamingHandlers {
  return {
    ObserveStream: (call: StreamCall) => new StreamHandler(engine, limits, peers, call).start(),
    Recall: (call, callback) => respond(callback, () => routed(engine, peers, 'Recall', call, () => recall(engine, call.request, call))),
    Fetch: (call, callback) => respond(callback, () => routed(engine, peers, 'Fetch', call, () => fetch(engine, call.request))),
  };
}

/** Serves a unary request here when this engine owns its space, else forwards it to the owner. */
function routed<Req extends { memorySpace: string }, Res>(
  engine: Engine, peers: Peers, method: 'Recall' | 'Fetch', call: grpc.ServerUnaryCall<Req, Res>, local: () => Promise<Res>,
): Promise<Res> {
  const space = validateSpaceId(call.request.memorySpace);
  checkSpace(principalOf(call), space, engine.tenants.tenantOf(space).name);
  const remote = remoteOwner(engine, space, call.metadata);
  return remote ? forwardUnary<Req, Res>(engine, peers, method, space, remote, call) : local();
}

const MAX_FETCH_IDS = 1000;

async function fetch(engine: Engine, request: FetchRequest__Output): Promise<FetchResponse> {
  const space = validateSpaceId(request.memorySpace);
  if (request.ids.length < 1 || request.ids.length > MAX_FETCH_IDS) {
    throw new EngramError('INVALID_ARGUMENT', `ids must list 1 to ${MAX_FETCH_IDS} observation ids, got ${request.ids.length}`);
  }
  if (!engine.directory.has(space)) throw spaceNotFound(space);
  const { found, missing } = await engine.fetch(space, request.ids);
  return {
    observations: found.map((o) => ({ id: o.id, embedding: encodeVector(o.vector), content: o.content, metadata: o.metadata ?? {} })),
    missingIds: missing,
  };
}

/** The same answer from Recall and Fetch for a space the engine does not hold. */
function spaceNotFound(space: string): EngramError {
  return new EngramError('SPACE_NOT_FOUND', `memory space '${space}' does not exist`);
}

/** Drives one ObserveStream call: init first, then batches, then close (draining if asked). */
class StreamHandler {
  private session: ObserveSession | null = null;
  /** Set when another pod owns the stream's space: everything goes there. */
  private proxy: StreamProxy | null = null;
  private ended = false;
  private finishing = false;

  constructor(private readonly engine: Engine, private readonly limits: StreamingLimits, private readonly peers: Peers, private readonly call: StreamCall) {}

  start(): void {
    this.call.on('data', (message: ClientMessage__Output) => {
      try {
        const malformed = malformedRequestError(message);
        if (malformed) throw malformed;
        if (this.proxy) this.proxy.send(message);
        else this.receive(message);
      } catch (e) {
        this.fail(e);
      }
    });
    this.call.on('end', () => (this.proxy ? this.proxy.end() : this.receive('end')));
    this.call.on('cancelled', () => {
      this.proxy?.cancel();
      this.dispose();
    });
    // an error emitted here (a refusal, a lapsed key) ends the call: a forwarded leg goes with it
    this.call.on('error', () => {
      this.proxy?.cancel();
      this.dispose();
    });
  }

  /** Why reads are paused (grpc's send buffer full, a tenant over its rate): resumed when none is left. */
  private readonly holds = new Set<string>();

  private hold(reason: string): void {
    if (this.holds.size === 0) this.call.pause();
    this.holds.add(reason);
  }

  private release(reason: string): void {
    if (!this.holds.delete(reason) || this.holds.size > 0 || this.ended) return;
    this.call.resume();
  }

  /** Writes a message, pausing reads while grpc's send buffer is full (transport backpressure). */
  private write = (message: ServerMessage): void => {
    if (this.ended) return;
    if (!this.call.write(message) && !this.holds.has('drain')) {
      this.hold('drain');
      this.call.once('drain', () => this.release('drain'));
    }
  };

  /** Reads nothing more from this stream for `ms` (its tenant is over its rate limit). */
  private holdReads(ms: number): void {
    if (this.holds.has('rate')) return;
    this.hold('rate');
    setTimeout(() => this.release('rate'), ms).unref();
  }

  /**
   * Messages that arrived while a batch waits for its tenant's tokens (reads are paused then, but
   * whatever gRPC had already decoded may still come): handled after it, in order.
   */
  private deferred: Array<ClientMessage__Output | 'end'> | null = null;

  /** One message from the client, or 'end' when it finished sending. */
  private receive(message: ClientMessage__Output | 'end'): void {
    if (this.deferred) {
      this.deferred.push(message);
      return;
    }
    if (message === 'end') return void this.finish(true, 'client finished sending');
    if (message.body === 'init' && message.init) return this.init(message.init);
    if (!this.session) {
      throw new EngramError('PROTOCOL_VIOLATION', `the first message on a stream must be init, got ${message.body ?? 'an empty message'}`);
    }
    if (this.finishing && message.body === 'observations') throw new EngramError('PROTOCOL_VIOLATION', 'observations sent after close');
    if (message.body === 'observations' && message.observations) {
      const count = message.observations.observations.length;
      if (count > this.limits.maxBatch) {
        throw new EngramError('INVALID_ARGUMENT', `a batch of ${count} observations exceeds the engine's limit of ${this.limits.maxBatch}`);
      }
      return this.observe(this.session, message.observations);
    }
    if (message.body === 'close') return void this.finish(message.close?.drain ?? false, 'client closed the stream');
    throw new EngramError('PROTOCOL_VIOLATION', 'message has no body');
  }

  /**
   * Observes a batch once its tenant's tokens for it are there. A batch over the tenant's rate
   * waits, with the stream unread, rather than being refused: its client is slowed by flow control
   * and each observation is parsed once. What the tenant would not earn within MAX_RATE_DELAY_MS is
   * refused with a retry time, and the stream is not read until then either.
   */
  private observe(session: ObserveSession, batch: ObservationBatch__Output): void {
    const rate = session.reserveRate(batch.observations.length);
    if (rate.retryAfterMs > 0) this.holdReads(rate.retryAfterMs);
    if (rate.delayMs === 0) return session.observe(batch, rate);
    this.engine.metrics.tenantDelayed.inc({ tenant: session.tenantName }, rate.allowed);
    session.slowToRate();
    this.deferred = [];
    this.hold('tokens');
    setTimeout(() => {
      if (this.ended) return session.forgoRate(rate);
      this.release('tokens');
      this.handleInOrder(() => session.observe(batch, rate));
    }, rate.delayMs).unref();
  }

  /** Runs `first`, then the messages deferred behind it, until one of them waits in turn. */
  private handleInOrder(first: () => void): void {
    const later = this.deferred ?? [];
    this.deferred = null;
    try {
      first();
      while (later.length > 0 && !this.waitingForTokens()) this.receive(later.shift()!);
      if (later.length > 0) this.deferred = [...later, ...(this.deferred ?? [])];
    } catch (e) {
      this.fail(e);
    }
  }

  private waitingForTokens(): boolean {
    return this.deferred !== null;
  }

  private init(init: NonNullable<ClientMessage__Output['init']>): void {
    if (this.session) throw new EngramError('PROTOCOL_VIOLATION', 'init was already sent on this stream');
    const spaceId = validateSpaceId(init.memorySpace);
    const tenant = this.engine.tenants.tenantOf(spaceId);
    checkSpace(principalOf(this.call), spaceId, tenant.name);
    const remote = remoteOwner(this.engine, spaceId, this.call.metadata);
    if (remote) {
      this.proxy = new StreamProxy(this.engine, this.peers, spaceId, remote, this.call, { body: 'init', init });
      return;
    }
    if (init.tenant && init.tenant !== tenant.name) {
      throw new EngramError('TENANT_MISMATCH', `memory space '${spaceId}' belongs to tenant '${tenant.name}', not ${quote(init.tenant)}`);
    }
    if (!this.engine.accepting()) throw new EngramError('SHUTTING_DOWN', 'the engine is shutting down');
    const space = this.engine.directory.open(spaceId);
    const session = new ObserveSession(randomUUID(), space, init.honoursBackpressure, this.engine, this.write, () => this.endCall());
    this.session = session;
    this.engine.sessions.add(session);
    const config = this.engine.config();
    this.write({
      initAck: {
        sessionId: session.id,
        nextSequence: 1,
        capabilities: {
          maxObservationsPerSecond: Math.round(this.engine.tenants.localRate(tenant)),
          queueCapacity: this.engine.queue.observationCapacity,
          backpressure: true,
          dimension: config.hnsw.dimension,
          maxBatchSize: this.limits.maxBatch,
          maxMessageBytes: this.limits.maxMessageBytes,
          streamWindow: session.firstWindow(),
        },
      },
    });
    // every other stream's share of the queue just shrank: they learn their new windows now
    for (const open of this.engine.sessions) open.reportWindow();
  }

  private async finish(drain: boolean, message: string): Promise<void> {
    const session = this.session;
    // `close` followed by the client's half-close would otherwise finish (and end the call) twice.
    if (this.ended || this.finishing) return;
    this.finishing = true;
    if (session && drain) await session.drained();
    session?.close(message);
    this.endCall();
  }

  /** Ends the call with OK: after the session's CLOSED status, or when the client finished without one. */
  private endCall(): void {
    if (this.ended) return;
    this.dispose();
    this.call.end();
  }

  private fail(e: unknown): void {
    if (this.ended) return;
    const error = toEngramError(e);
    this.dispose();
    this.call.emit('error', toServiceError(error));
  }

  private dispose(): void {
    this.ended = true;
    if (this.session) this.engine.sessions.delete(this.session);
  }
}

async function recall(engine: Engine, request: RecallRequest__Output, call: grpc.ServerUnaryCall<unknown, unknown>): Promise<RecallResponse> {
  const started = performance.now();
  const space = validateSpaceId(request.memorySpace);
  if (!engine.directory.has(space)) throw spaceNotFound(space);
  const { hnsw } = engine.config();
  const vector = checkComparable(decodeVector(request.vector, hnsw.dimension, 'query vector'), hnsw.metric, 'query vector');
  if (request.k < 1 || request.k > MAX_K) throw new EngramError('INVALID_ARGUMENT', `k must be in [1, ${MAX_K}], got ${request.k}`);
  if (request.ef > 4096) throw new EngramError('INVALID_ARGUMENT', `ef must be at most 4096, got ${request.ef}`);
  if (request.hasMinSimilarity && !Number.isFinite(request.minSimilarity)) {
    throw new EngramError('INVALID_ARGUMENT', 'min_similarity must be a finite number');
  }
  const { queue } = engine;
  if (!queue.tryAdmitRecall()) {
    throw new EngramError('RECALL_LANE_FULL', `the recall lane is full (${queue.recallDepth} of ${queue.recallCapacityLimit} in flight); retry shortly`);
  }
  const abort = new AbortController();
  const onCancel = (): void => abort.abort();
  call.once('cancelled', onCancel);
  try {
    const result = await engine.recall(space, vector, request.k, request.ef, abort.signal);
    const hits = request.hasMinSimilarity ? result.hits.filter((h) => h.similarity >= request.minSimilarity) : result.hits;
    return {
      spaceSize: result.spaceSize,
      hits: hits.map((h) => ({ id: h.id, similarity: h.similarity, distance: h.distance, content: h.content, metadata: h.metadata ?? {} })),
    };
  } finally {
    call.removeListener('cancelled', onCancel);
    queue.releaseRecall();
    engine.metrics.recallLatency.observe((performance.now() - started) / 1000);
  }
}
