// TLS for the gRPC and HTTP ports, from PEM files in cert-manager's Secret layout (tls.crt, tls.key,
// ca.crt), re-read when they change so a renewed certificate is served without a restart. The CA
// is what this engine trusts: other pods' certificates when it connects to them, and clients'
// certificates when it requires them (mTLS).
import * as grpc from '@grpc/grpc-js';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { RequestListener } from 'node:http';
import { EngramError } from '../errors.js';
import { certificateName, type ClientTls } from '../client/channel-credentials.js';

/** How often certificate files are checked for changes. */
export const CERTIFICATE_POLL_MS = 1000;

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** Trusted CA bundle: for connections to other pods, and for client certificates. */
  caFile?: string;
  /** Refuse clients without a certificate signed by the CA (mTLS). */
  requireClientCert?: boolean;
}

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new EngramError('INVALID_ARGUMENT', `${what} ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Checks the files once at start, so a wrong path or a bad PEM stops the engine with a clear error. */
export function checkTlsFiles(tls: TlsFiles): void {
  try {
    new X509Certificate(read(tls.certFile, 'the TLS certificate'));
  } catch (e) {
    throw e instanceof EngramError ? e : new EngramError('INVALID_ARGUMENT', `the TLS certificate ${tls.certFile} is not a PEM certificate`);
  }
  read(tls.keyFile, 'the TLS key');
  if (tls.caFile) read(tls.caFile, 'the TLS CA bundle');
  if (tls.requireClientCert && !tls.caFile) throw new EngramError('INVALID_ARGUMENT', 'requiring client certificates needs a CA to check them against (--tls-ca)');
}

/** Server credentials that follow the files (grpc-js re-reads them every CERTIFICATE_POLL_MS). */
export function grpcServerCredentials(tls: TlsFiles | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const identity = new grpc.experimental.FileWatcherCertificateProvider({ certificateFile: tls.certFile, privateKeyFile: tls.keyFile, refreshIntervalMs: CERTIFICATE_POLL_MS });
  const ca = tls.caFile ? new grpc.experimental.FileWatcherCertificateProvider({ caCertificateFile: tls.caFile, refreshIntervalMs: CERTIFICATE_POLL_MS }) : null;
  // grpc-js names the first parameter caCertificateProvider, but passes it on as the identity
  return grpc.experimental.createCertificateProviderServerCredentials(identity, ca, tls.requireClientCert ?? false);
}

/**
 * How this engine connects to the other pods of its stream: trusting the CA, presenting its own
 * certificate (they may require one), and expecting the name its own certificate carries (every
 * pod of a stream serves the same names; pods are dialled by IP).
 */
export function peerTls(tls: TlsFiles): ClientTls {
  const cert = read(tls.certFile, 'the TLS certificate');
  const serverName = certificateName(cert);
  return {
    ...(tls.caFile ? { ca: read(tls.caFile, 'the TLS CA bundle') } : {}),
    cert, key: read(tls.keyFile, 'the TLS key'),
    ...(serverName ? { serverName } : {}),
  };
}

/** An HTTPS server for the metrics and probe port, whose certificate follows the files. */
export function httpsServer(tls: TlsFiles, handler: RequestListener): HttpsServer & { stopWatching(): void } {
  const context = () => ({ cert: read(tls.certFile, 'the TLS certificate'), key: read(tls.keyFile, 'the TLS key') });
  const server = createHttpsServer(context(), handler);
  const reload = (): void => {
    try {
      server.setSecureContext(context());
    } catch {
      // a half-written pair (cert renewed, key not yet): the next change completes it
    }
  };
  watchFile(tls.certFile, { interval: CERTIFICATE_POLL_MS, persistent: false }, reload);
  watchFile(tls.keyFile, { interval: CERTIFICATE_POLL_MS, persistent: false }, reload);
  return Object.assign(server, {
    stopWatching: () => {
      unwatchFile(tls.certFile);
      unwatchFile(tls.keyFile);
    },
  });
}
