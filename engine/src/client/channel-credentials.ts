// How a client reaches an engine: plaintext or TLS (optionally with a client certificate), and an
// API key on every call. Used by EngramClient and by engines calling each other.
import * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';

export interface ClientTls {
  /** CA certificate(s) the engine's certificate must chain to (default: the system's roots). */
  ca?: Buffer;
  /** A client certificate and its key, for engines that require one (mTLS). */
  cert?: Buffer;
  key?: Buffer;
  /** The name the engine's certificate must carry, when it is not the address's host (a pod IP, say). */
  serverName?: string;
}

export function channelCredentials(tls: ClientTls | undefined): grpc.ChannelCredentials {
  return tls ? grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null) : grpc.credentials.createInsecure();
}

/** Adds `authorization: Bearer <key>` to every call. */
export function bearerInterceptor(key: string): grpc.Interceptor {
  return (options, nextCall) => new grpc.InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      metadata.set('authorization', `Bearer ${key}`);
      next(metadata, listener);
    },
  });
}

/**
 * The name to expect when dialling a pod by address: the certificate's first DNS name (for a
 * wildcard, one name under it). Every pod of a stream serves the same names.
 */
export function certificateName(pem: string | Buffer): string | null {
  try {
    const dns = (new X509Certificate(pem).subjectAltName ?? '').split(',').map((n) => n.trim()).find((n) => n.startsWith('DNS:'));
    return dns ? dns.slice(4).replace(/^\*\./, 'pod.') : null;
  } catch {
    return null;
  }
}
