// Raises the HTTP/2 receive windows of a grpc-js server. grpc-js reads its flow-control window
// option on the client only (grpc-node PR #3058 adds it to the server, not released), so a server
// advertises Node's 64 KiB default: a client streaming 3 KB embeddings then waits a round trip for a
// WINDOW_UPDATE every ~20 observations. We reach the server's HTTP/2 listeners (a private field of
// grpc-js, checked at start so an upgrade that renames it fails loudly) and give each new session
// larger connection and stream windows. Memory stays bounded by the engine's own queue: the gRPC
// call is paused while writes back up, and admission refuses what the queue cannot hold.
import type * as grpc from '@grpc/grpc-js';
import type { Http2Session } from 'node:http2';
import type { EventEmitter } from 'node:events';

export const CONNECTION_WINDOW_BYTES = 32 * 1024 * 1024;
export const STREAM_WINDOW_BYTES = 8 * 1024 * 1024;

export function raiseFlowControlWindows(server: grpc.Server): void {
  const listeners = (server as unknown as { http2Servers?: Map<EventEmitter, unknown> }).http2Servers;
  if (!(listeners instanceof Map)) {
    throw new Error('grpc-js internals changed: Server.http2Servers not found; see server/flow-control-window.ts');
  }
  for (const listener of listeners.keys()) {
    listener.on('session', (session: Http2Session) => {
      session.settings({ initialWindowSize: STREAM_WINDOW_BYTES });
      session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
    });
  }
}
