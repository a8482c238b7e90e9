// Builds the gRPC server: Streaming, Admin and Cluster, each call authenticated and authorised at the
// edge and counted in the grpc_server_* metrics (started, handled by status code, handling time),
// plus grpc.health.v1 and server reflection (open to all).
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { performance } from 'node:perf_hooks';
import type { Engine } from '../engine.js';
import type { EngineMetrics } from '../metrics/engine-metrics.js';
import { engramPackageDefinition, loadEngramProto } from '../wire/load-proto.js';
import { adminHandlers } from './admin-service.js';
import { toServiceError } from './grpc-errors.js';
import { malformedRequestError, tolerateMalformedRequests } from './malformed-request.js';
import { withFastObservationBatches } from '../wire/observation-batch-decoder.js';
import { addReflectionService } from './reflection.js';
import { streamingHandlers, type StreamingLimits } from './streaming-service.js';
import { clusterHandlers } from './cluster-service.js';
import { rememberPrincipal, type Authenticator } from './authentication.js';
import type { Principal } from '../auth/credentials.js';
import type { KeySource } from '../auth/key-source.js';
import type { ClientTls } from '../client/channel-credentials.js';
import { Imports } from '../handoff/imports.js';
import { Peers } from '../handoff/peers.js';

export const SERVICE_NAMES = ['engram.v1.Streaming', 'engram.v1.Admin', 'engram.v1.Cluster'] as const;

type AnyHandler = (call: never, callback?: never) => void;

/**
 * Wraps each handler so that every RPC is authenticated (and refused before its handler when the
 * caller may not call it), counted and timed.
 */
function guard<T extends object>(service: string, handlers: T, metrics: EngineMetrics, auth: Authenticator): T {
  const out: Record<string, AnyHandler> = {};
  for (const [method, handler] of Object.entries(handlers) as Array<[string, AnyHandler]>) {
    const type = method === 'ObserveStream' || method === 'ExportSpace' ? 'bidi_stream' : 'unary';
    const labels = { grpc_service: service, grpc_method: method, grpc_type: type };
    out[method] = ((call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>, callback?: grpc.sendUnaryData<unknown>) => {
      const started = performance.now();
      metrics.grpcStarted.inc(labels);
      const done = (code: grpc.status): void => {
        metrics.grpcHandled.inc({ ...labels, grpc_code: grpc.status[code] ?? String(code) });
        metrics.grpcHandling.observe(labels, (performance.now() - started) / 1000);
      };
      let refusal: unknown = null;
      let principal: Principal | null = null;
      try {
        principal = auth.authorize(call.metadata, `${service}/${method}`);
        rememberPrincipal(call, principal);
      } catch (e) {
        refusal = e;
      }
      if (callback) {
        const wrapped: grpc.sendUnaryData<unknown> = (error, value) => {
          done(error ? (error.code ?? grpc.status.UNKNOWN) : grpc.status.OK);
          callback(error, value);
        };
        if (refusal) return wrapped(toServiceError(refusal) as grpc.ServiceError);
        const malformed = malformedRequestError((call as grpc.ServerUnaryCall<unknown, unknown>).request);
        if (malformed) return wrapped(toServiceError(malformed) as grpc.ServiceError);
        return (handler as (c: unknown, cb: unknown) => void)(call, wrapped);
      }
      if (refusal || !principal) {
        done(toServiceError(refusal).code ?? grpc.status.UNKNOWN);
        return (call as grpc.ServerDuplexStream<unknown, unknown>).emit('error', toServiceError(refusal));
      }
      // A stream lives on its key: revoked or expired, the stream ends with UNAUTHENTICATED.
      const unwatch = auth.watch(principal, (why) => (call as grpc.ServerDuplexStream<unknown, unknown>).emit('error', toServiceError(why)));
      const stream = call as grpc.ServerDuplexStream<unknown, unknown>;
      let finished = false;
      const finish = (code: grpc.status): void => {
        if (!finished) done(code);
        finished = true;
      };
      stream.once('finish', () => finish(grpc.status.OK));
      stream.once('error', (e: { code?: number }) => finish(e.code ?? grpc.status.UNKNOWN));
      stream.once('cancelled', () => finish(grpc.status.CANCELLED));
      for (const event of ['finish', 'error', 'cancelled']) stream.once(event, unwatch);
      return (handler as (c: unknown) => void)(call);
    }) as AnyHandler;
  }
  return out as T;
}

export interface GrpcServerOptions extends StreamingLimits {
  auth: Authenticator;
  /** The API keys behind `auth` (Admin.SetKeys replaces them); null without authentication. */
  keys: KeySource | null;
  /** How to reach the stream's other pods over TLS (plaintext without it). */
  peerTls?: ClientTls;
}

export interface EngineGrpcServer {
  server: grpc.Server;
  health: HealthImplementation;
  /** Ends every open health Watch with OK (after the last status it was sent). */
  endHealthWatches(): void;
  /** Stops imports and closes the channels to other engines. */
  closePeers(): void;
}

export function createGrpcServer(engine: Engine, options: GrpcServerOptions): EngineGrpcServer {
  const proto = loadEngramProto();
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_send_message_length': options.maxMessageBytes,
  });
  const peers = new Peers(options.maxMessageBytes, options.peerTls);
  const imports = new Imports(engine, peers);
  server.addService(tolerateMalformedRequests(withFastObservationBatches(proto.engram.v1.Streaming.service)), guard('engram.v1.Streaming', streamingHandlers(engine, options, peers), engine.metrics, options.auth));
  server.addService(tolerateMalformedRequests(proto.engram.v1.Admin.service), guard('engram.v1.Admin', adminHandlers(engine, options.keys), engine.metrics, options.auth));
  server.addService(tolerateMalformedRequests(proto.engram.v1.Cluster.service), guard('engram.v1.Cluster', clusterHandlers(engine, peers, imports), engine.metrics, options.auth));
  const health = new HealthImplementation(Object.fromEntries(['', ...SERVICE_NAMES].map((name) => [name, 'NOT_SERVING'])));
  const watches = addHealthService(server, health);
  addReflectionService(server, engramPackageDefinition());
  return {
    server, health,
    endHealthWatches: () => {
      for (const call of watches) call.end();
      watches.clear();
    },
    closePeers: () => {
      imports.close();
      peers.close();
    },
  };
}

/**
 * grpc.health.v1, keeping its open Watch calls: grpc-health-check never ends them, so at shutdown
 * they would be cut by the transport (RST_STREAM) instead of ending with a status.
 */
function addHealthService(server: grpc.Server, health: HealthImplementation): Set<grpc.ServerWritableStream<unknown, unknown>> {
  const watches = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  const tracking = {
    addService(definition: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation) {
      const watch = impl.watch as grpc.handleServerStreamingCall<unknown, unknown>;
      server.addService(definition, {
        ...impl,
        watch: (call: grpc.ServerWritableStream<unknown, unknown>) => {
          watches.add(call);
          call.once('cancelled', () => watches.delete(call));
          watch(call);
        },
      });
    },
  };
  health.addToServer(tracking as unknown as grpc.Server);
  return watches;
}

export function bindGrpc(server: grpc.Server, address: string, credentials = grpc.ServerCredentials.createInsecure()): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (error, port) => (error ? reject(error) : resolve(port)));
  });
}
