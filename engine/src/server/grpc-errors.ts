// Maps errors to gRPC statuses: an EngramError carries its code's status and message; anything
// else is INTERNAL with the message kept.
import { Metadata, type sendUnaryData, type ServiceError } from '@grpc/grpc-js';
import { toEngramError } from '../errors.js';

/** An error another engine answered with (a forwarded request): passed to the client unchanged. */
export class PeerError extends Error {
  constructor(readonly status: Partial<ServiceError>) {
    super(status.details ?? 'error from the owning engine');
  }
}

export function toServiceError(e: unknown): Partial<ServiceError> {
  if (e instanceof PeerError) return e.status;
  const error = toEngramError(e);
  const metadata = new Metadata();
  metadata.set('engram-error-code', error.code);
  for (const [key, value] of Object.entries(error.details)) metadata.set(key, value);
  return { code: error.grpcStatus, details: error.message, metadata };
}

/** Runs a unary handler's work and answers with its result, or its error as a status. */
export function respond<T>(callback: sendUnaryData<T>, work: () => T | Promise<T>): void {
  Promise.resolve().then(work).then((value) => callback(null, value), (e: unknown) => callback(toServiceError(e)));
}
