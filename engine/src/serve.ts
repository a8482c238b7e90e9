// Starts a whole engine process: its HTTP probe/metrics port first (alive, not ready, while it
// recovers from its data directory), then the engine, then its gRPC server; and a graceful stop
// (stop accepting, index what is queued, snapshot, all within the deadline, then exit).
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type * as grpc from '@grpc/grpc-js';
import type { HealthImplementation } from 'grpc-health-check';
import type { EngineConfig } from './config/engine-config.js';
import { Engine } from './engine.js';
import type { Logger } from './log.js';
import { bindGrpc, createGrpcServer, SERVICE_NAMES } from './server/grpc-server.js';
import { raiseFlowControlWindows } from './server/flow-control-window.js';
import { createHttpServer } from './server/http-server.js';

export interface ServeOptions {
  config: EngineConfig;
  log: Logger;
  host: string;
  grpcPort: number;
  httpPort: number;
  maxMessageBytes: number;
  maxBatch: number;
  scratchDir?: string;
  dataDir?: string;
  faultInjection?: boolean;
  /** This engine's pod name in a multi-pod stream (takes placements from the operator). */
  memberName?: string;
}

export interface RunningEngine {
  engine: Engine;
  grpcPort: number;
  httpPort: number;
  stop(deadlineMs?: number): Promise<void>;
}

function listenHttp(server: HttpServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

function setServing(health: HealthImplementation, serving: boolean): void {
  for (const name of ['', ...SERVICE_NAMES]) health.setStatus(name, serving ? 'SERVING' : 'NOT_SERVING');
}

export async function serve(options: ServeOptions): Promise<RunningEngine> {
  const engine = new Engine({
    config: options.config, log: options.log,
    ...(options.scratchDir ? { scratchDir: options.scratchDir } : {}), ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    faultInjection: options.faultInjection ?? false,
    ...(options.memberName ? { memberName: options.memberName } : {}),
  });
  // Ready only once the gRPC port takes connections: a probe that passes earlier sends traffic to
  // a port that refuses it.
  let listening = false;
  const http = createHttpServer({ registry: engine.metrics.registry, ready: () => listening && engine.ready });
  const httpPort = await listenHttp(http, options.host, options.httpPort);
  try {
    await engine.start();
  } catch (e) {
    http.close();
    throw e;
  }
  const { server, health, endHealthWatches, closePeers } = createGrpcServer(engine, { maxMessageBytes: options.maxMessageBytes, maxBatch: options.maxBatch });
  const grpcPort = await bindGrpc(server, `${options.host}:${options.grpcPort}`);
  raiseFlowControlWindows(server);
  setServing(health, true);
  listening = true;
  options.log.info('engine listening', {
    host: options.host, grpcPort, httpPort, profile: options.config.profile,
    workers: options.config.workers, configHash: engine.applied.hash, dataDir: options.dataDir ?? null,
  });

  let stopping: Promise<void> | null = null;
  const stop = (deadlineMs = 30_000): Promise<void> => {
    stopping ??= (async () => {
      setServing(health, false);
      options.log.info('engine stopping', { deadlineMs, queued: engine.queue.depth });
      // Streams end with CLOSED then OK as the engine closes their sessions; health watches have
      // been told NOT_SERVING: end them too, so nothing is cut by the transport.
      await engine.close(deadlineMs);
      closePeers();
      endHealthWatches();
      await shutdownGrpc(server, 2000);
      await new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
      options.log.info('engine stopped');
    })();
    return stopping;
  };
  return { engine, grpcPort, httpPort, stop };
}

function shutdownGrpc(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
