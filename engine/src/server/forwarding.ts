// Requests for a memory space another pod of the stream owns: passed on to the owner (any pod
// accepts any request, so the client Service can balance freely and a plain gRPC client works),
// or, for clients that route by themselves (`engram-route: direct`), answered with SPACE_MOVED and
// the owner's address. A forwarded stream is a pipe: every message both ways passes unchanged,
// with gRPC flow control on both legs; the owner's final status (OK or an error) ends the client's
// call. A request is forwarded once at most: an owner that does not own the space either (the
// placement is changing) answers UNAVAILABLE, which clients retry.
import * as grpc from '@grpc/grpc-js';
import type { Engine } from '../engine.js';
import { EngramError } from '../errors.js';
import type { ClientMessage__Output } from '../generated/engram/v1/ClientMessage.js';
import type { ServerMessage__Output } from '../generated/engram/v1/ServerMessage.js';
import type { Peers } from '../handoff/peers.js';
import type { Route } from '../placement/membership.js';
import { AUTHORIZATION_HEADER } from '../auth/credentials.js';
import { callerAuthorization } from './authentication.js';
import { PeerError, toServiceError } from './grpc-errors.js';

export const ROUTE_HEADER = 'engram-route';
export const FORWARDED_HEADER = 'engram-forwarded-by';
export const OWNER_HEADER = 'engram-owner-address';

type RemoteRoute = Extract<Route, { local: false }>;

/** Where a request for `space` is served: here (null), or the remote owner to forward to. Throws for direct clients. */
export function remoteOwner(engine: Engine, space: string, metadata: grpc.Metadata): RemoteRoute | null {
  const { membership } = engine;
  // A member that has no placement yet (a new pod) cannot know who owns a space it does not hold.
  if (membership.self && !membership.placement && !engine.directory.has(space)) {
    throw new EngramError('OWNER_UNAVAILABLE', `this engine (${membership.self}) has not received its stream's placement yet, so it cannot route memory space '${space}'; retry`);
  }
  const route = membership.route(space);
  if (route.local) return null;
  const { owner, generation } = route;
  if (metadata.get(ROUTE_HEADER)[0] === 'direct') {
    throw new EngramError('SPACE_MOVED', `memory space '${space}' is owned by ${owner.name} at ${owner.address} (placement generation ${generation})`, {
      details: { [OWNER_HEADER]: owner.address, 'engram-placement-generation': String(generation) },
    });
  }
  if (metadata.get(FORWARDED_HEADER).length > 0) {
    throw new EngramError('OWNER_UNAVAILABLE', `memory space '${space}' is changing owner (this engine routes it to ${owner.name} at placement generation ${generation}); retry`);
  }
  return route;
}

/** Marks a call as forwarded, carrying the client's own key (the owner checks it again). */
function forwardedMetadata(engine: Engine, caller: { metadata: grpc.Metadata }): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set(FORWARDED_HEADER, engine.membership.self ?? 'engine');
  const authorization = callerAuthorization(caller);
  if (authorization) metadata.set(AUTHORIZATION_HEADER, authorization);
  return metadata;
}

/** The owner's error, or UNAVAILABLE naming the space and the pod when the owner was not reached. */
function ownerFailure(e: grpc.ServiceError, space: string, route: RemoteRoute): Error {
  const answered = e.metadata?.get('engram-error-code').length > 0;
  if (answered || e.code !== grpc.status.UNAVAILABLE) return new PeerError({ code: e.code, details: e.details, metadata: e.metadata });
  return new EngramError('OWNER_UNAVAILABLE', `memory space '${space}' is owned by ${route.owner.name} (${route.owner.address}), which cannot be reached: ${e.details}; retry`);
}

/** Forwards a unary call to the owner of its space. */
export function forwardUnary<Req, Res>(
  engine: Engine, peers: Peers, method: 'Recall' | 'Fetch', space: string, route: RemoteRoute, call: grpc.ServerUnaryCall<Req, Res>,
): Promise<Res> {
  const client = peers.get(route.owner.address).streaming as unknown as Record<string, (r: Req, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v?: Res) => void) => void>;
  return new Promise<Res>((resolve, reject) => {
    client[method]!(call.request, forwardedMetadata(engine, call), { deadline: call.getDeadline() }, (e, value) => {
      engine.metrics.forwarded.inc({ grpc_method: method, result: e ? 'error' : 'ok' });
      if (e) reject(ownerFailure(e, space, route));
      else resolve(value as Res);
    });
  });
}

/**
 * Pipes an observation stream to the owner of its space, starting with the client's init. The
 * returned object takes the client's later messages and its half-close or cancellation.
 */
export class StreamProxy {
  private readonly upstream: grpc.ClientDuplexStream<ClientMessage__Output, ServerMessage__Output>;
  private ended = false;

  constructor(
    private readonly engine: Engine,
    peers: Peers,
    private readonly space: string,
    private readonly route: RemoteRoute,
    private readonly call: grpc.ServerDuplexStream<ClientMessage__Output, unknown>,
    init: ClientMessage__Output,
  ) {
    this.upstream = peers.get(route.owner.address).streaming.ObserveStream(forwardedMetadata(engine, call)) as unknown as typeof this.upstream;
    this.upstream.on('data', (message: ServerMessage__Output) => {
      if (this.ended) return;
      if (!this.call.write(message)) {
        this.upstream.pause();
        this.call.once('drain', () => this.upstream.resume());
      }
    });
    this.upstream.on('status', (status: grpc.StatusObject) => {
      if (status.code === grpc.status.OK) this.finish(null);
    });
    this.upstream.on('error', (e: grpc.ServiceError) => this.finish(e));
    this.send(init);
  }

  send(message: ClientMessage__Output): void {
    if (this.ended) return;
    if (!this.upstream.write(message)) {
      this.call.pause();
      this.upstream.once('drain', () => this.call.resume());
    }
  }

  /** The client finished sending. */
  end(): void {
    if (!this.ended) this.upstream.end();
  }

  /** The client went away. */
  cancel(): void {
    if (this.ended) return;
    this.ended = true;
    this.upstream.cancel();
  }

  private finish(e: grpc.ServiceError | null): void {
    if (this.ended) return;
    this.ended = true;
    this.engine.metrics.forwarded.inc({ grpc_method: 'ObserveStream', result: e ? 'error' : 'ok' });
    if (!e) {
      this.call.end();
      return;
    }
    // The client's own cancel ended the proxy before this (`ended`): a CANCELLED here is the owner's
    // leg closed under it (its channel closed when the owner left the placement, say). The client
    // is told to reconnect; left without an answer, its stream would wait forever.
    const failure = e.code === grpc.status.CANCELLED
      ? new EngramError('OWNER_UNAVAILABLE', `the connection to ${this.route.owner.name} (${this.route.owner.address}), owner of memory space '${this.space}', was closed: ${e.details}; reconnect`)
      : ownerFailure(e, this.space, this.route);
    this.call.emit('error', toServiceError(failure));
  }
}
