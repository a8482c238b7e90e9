// The HTTP side port: Prometheus metrics (behind a metrics or admin key when the engine has keys)
// and the liveness and readiness probes (always open: the kubelet probes without credentials).
import { createServer, type RequestListener, type Server } from 'node:http';
import { status as grpcStatus } from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import { isEngramError } from '../errors.js';

export interface ProbeTargets {
  registry: Registry;
  /** Ready to take traffic: workers running, none failed, not shutting down. */
  ready(): boolean;
  /**
   * Checks a scrape's authorization header (metrics name tenants and spaces); throws to refuse.
   * Absent: metrics are open (an engine started with --insecure).
   */
  authorizeScrape?(authorization: string | undefined): void;
}

export function createHttpServer(targets: ProbeTargets): Server {
  return createServer(probeHandler(targets));
}

export function probeHandler(targets: ProbeTargets): RequestListener {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      try {
        targets.authorizeScrape?.(req.headers.authorization);
      } catch (e) {
        const status = isEngramError(e) && e.grpcStatus === grpcStatus.PERMISSION_DENIED ? 403 : 401;
        res.writeHead(status, { 'content-type': 'text/plain', ...(status === 401 ? { 'www-authenticate': 'Bearer realm="engram metrics"' } : {}) }).end(`${(e as Error).message}\n`);
        return;
      }
      targets.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': targets.registry.contentType }).end(text),
        (e: unknown) => res.writeHead(500).end(String(e)),
      );
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ready = targets.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'not ready\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  };
}
