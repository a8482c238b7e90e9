// Builds the gRPC server: Streaming and Admin, each handler counted in the grpc_server_* metrics
// (started, handled by status code, handling time), plus grpc.health.v1 and server reflection.
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { performance } from 'node:perf_hooks';
import type { Engine } from '../engine.js';
import type { EngineMetrics } from '../metrics/engine-metrics.js';
import { engramPackageDefinition, loadEngramProto } from '../wire/load-proto.js';
import { adminHandlers } from './admin-service.js';
import { toServiceError } from './grpc-errors.js';
import { malformedRequestError, tolerateMalformedRequests } from './malformed-request.js';
import { addReflectionService } from './reflection.js';
import { streamingHandlers, type StreamingLimits } from './streaming-service.js';
import { clusterHandlers } from './cluster-service.js';
import { Imports } from '../handoff/imports.js';
import { Peers } from '../handoff/peers.js';

export const SERVICE_NAMES = ['engram.v1.Streaming', 'engram.v1.Admin', 'engram.v1.Cluster'] as const;

type AnyHandler = (call: never, callback?: never) => void;

/** Wraps each handler so that every RPC is counted and timed. */
function instrument<T extends object>(service: string, handlers: T, metrics: EngineMetrics): T {
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
      if (callback) {
        const wrapped: grpc.sendUnaryData<unknown> = (error, value) => {
          done(error ? (error.code ?? grpc.status.UNKNOWN) : grpc.status.OK);
          callback(error, value);
        };
        const malformed = malformedRequestError((call as grpc.ServerUnaryCall<unknown, unknown>).request);
        if (malformed) return wrapped(toServiceError(malformed) as grpc.ServiceError);
        return (handler as (c: unknown, cb: unknown) => void)(call, wrapped);
      }
      const stream = call as grpc.ServerDuplexStream<unknown, unknown>;
      let finished = false;
      const finish = (code: grpc.status): void => {
        if (!finished) done(code);
        finished = true;
      };
      stream.once('finish', () => finish(grpc.status.OK));
      stream.once('error', (e: { code?: number }) => finish(e.code ?? grpc.status.UNKNOWN));
      stream.once('cancelled', () => finish(grpc.status.CANCELLED));
      return (handler as (c: unknown) => void)(call);
    }) as AnyHandler;
  }
  return out as T;
}

export type GrpcServerOptions = StreamingLimits;

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
  const peers = new Peers(options.maxMessageBytes);
  const imports = new Imports(engine, peers);
  server.addService(tolerateMalformedRequests(proto.engram.v1.Streaming.service), instrument('engram.v1.Streaming', streamingHandlers(engine, options, peers), engine.metrics));
  server.addService(tolerateMalformedRequests(proto.engram.v1.Admin.service), instrument('engram.v1.Admin', adminHandlers(engine), engine.metrics));
  server.addService(tolerateMalformedRequests(proto.engram.v1.Cluster.service), instrument('engram.v1.Cluster', clusterHandlers(engine, peers, imports), engine.metrics));
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

export function bindGrpc(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port)));
  });
}
