// The HTTP side port: Prometheus metrics and the liveness and readiness probes.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface ProbeTargets {
  registry: Registry;
  /** Ready to take traffic: workers running, none failed, not shutting down. */
  ready(): boolean;
}

export function createHttpServer(targets: ProbeTargets): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
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
  });
}
