// Starts a whole engine process: its HTTP probe/metrics port first (alive, not ready, while it
// recovers from its data directory), then the engine, then its gRPC server; and a graceful stop
// (stop accepting, index what is queued, snapshot, all within the deadline, then exit).
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type * as grpc from '@grpc/grpc-js';
import type { HealthImplementation } from 'grpc-health-check';
import type { EngineConfig } from './config/engine-config.js';
import { Engine } from './engine.js';
import type { Logger } from './log.js';
import { bindGrpc, createGrpcServer, SERVICE_NAMES } from './server/grpc-server.js';
import { raiseFlowControlWindows } from './server/flow-control-window.js';
import { probeHandler, type ProbeTargets } from './server/http-server.js';
import { checkScrape } from './auth/access.js';
import { parseBearer } from './auth/credentials.js';
import { KeySource } from './auth/key-source.js';
import { EngramError } from './errors.js';
import { hnswBuild } from './index/hnswlib-addon.js';
import { usearchUnavailable } from './index/usearch-graph.js';
import { INSECURE, keyAuthenticator } from './server/authentication.js';
import { checkTlsFiles, grpcServerCredentials, httpsServer, peerTls, type TlsFiles } from './server/tls.js';

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
  security: SecurityOptions;
}

export interface SecurityOptions {
  /** The API key file; null runs the engine without authentication (--insecure). */
  keysFile: string | null;
  /** TLS for gRPC (plaintext without it); `http` serves the metrics and probe port over HTTPS too. */
  tls?: TlsFiles & { http?: boolean };
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
  if (hnswBuild.problem) throw new EngramError('INVALID_CONFIG', hnswBuild.problem);
  const noUsearch = options.config.hnsw.backend === 'usearch' ? usearchUnavailable() : null;
  if (noUsearch) throw new EngramError('INVALID_CONFIG', `'hnsw.backend' usearch cannot run on this engine: ${noUsearch}`);
  const engine = new Engine({
    config: options.config, log: options.log,
    ...(options.scratchDir ? { scratchDir: options.scratchDir } : {}), ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    faultInjection: options.faultInjection ?? false,
    ...(options.memberName ? { memberName: options.memberName } : {}),
  });
  engine.metrics.hnswBuild.set({ build: hnswBuild.build }, 1);
  // Ready only once the gRPC port takes connections: a probe that passes earlier sends traffic to
  // a port that refuses it.
  let listening = false;
  const { security, log } = options;
  if (security.tls) checkTlsFiles(security.tls);
  const keys = security.keysFile ? KeySource.fromFile(security.keysFile, log) : null;
  if (!keys) log.warn('AUTHENTICATION IS OFF (--insecure): anyone who reaches this engine can read and write every memory space and change its config; for local development only');
  const targets: ProbeTargets = {
    registry: engine.metrics.registry, ready: () => listening && engine.ready,
    ...(keys ? { authorizeScrape: (header: string | undefined) => checkScrape(keys.credentials.authenticate(parseBearer(header), Date.now())) } : {}),
  };
  const http = security.tls?.http ? httpsServer(security.tls, probeHandler(targets)) : createServer(probeHandler(targets));
  const httpPort = await listenHttp(http, options.host, options.httpPort);
  try {
    await engine.start();
  } catch (e) {
    http.close();
    keys?.close();
    throw e;
  }
  const auth = keys ? keyAuthenticator(keys) : INSECURE;
  const { server, health, endHealthWatches, closePeers } = createGrpcServer(engine, {
    maxMessageBytes: options.maxMessageBytes, maxBatch: options.maxBatch, auth, keys, ...(security.tls ? { peerTls: peerTls(security.tls) } : {}),
  });
  const grpcPort = await bindGrpc(server, `${options.host}:${options.grpcPort}`, grpcServerCredentials(security.tls));
  raiseFlowControlWindows(server);
  setServing(health, true);
  listening = true;
  options.log.info('engine listening', {
    host: options.host, grpcPort, httpPort, profile: options.config.profile,
    workers: options.config.workers, configHash: engine.applied.hash, dataDir: options.dataDir ?? null,
    hnswBuild: `${hnswBuild.build} (${hnswBuild.reason})`,
    authentication: keys ? 'API keys' : 'off (--insecure)', tls: security.tls ? (security.tls.requireClientCert ? 'on, client certificates required' : 'on') : 'off',
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
      keys?.close();
      auth.close();
      if ('stopWatching' in http) http.stopWatching();
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
