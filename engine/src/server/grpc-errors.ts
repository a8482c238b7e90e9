// Maps errors to gRPC statuses: an EngramError carries its code's status and message; anything
// else is INTERNAL with the message kept.
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { toEngramError } from '../errors.js';

export function toServiceError(e: unknown): Partial<ServiceError> {
  const error = toEngramError(e);
  const metadata = new Metadata();
  metadata.set('engram-error-code', error.code);
  return { code: error.grpcStatus, details: error.message, metadata };
}
