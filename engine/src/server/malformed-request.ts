// A request body that is not the protobuf message its method takes is the client's error:
// INVALID_ARGUMENT, not grpc-js's INTERNAL ("Error deserializing request"), which reads as an
// engine fault. Each method's deserializer is wrapped to hand the handler a marker instead of
// throwing; the instrumenting wrapper (unary) and the stream handler (each message) answer it.
import type * as grpc from '@grpc/grpc-js';
import { EngramError } from '../errors.js';

const MALFORMED = Symbol('malformed request');

interface MalformedMarker { [MALFORMED]: string }

/** A copy of `service` whose request deserializers hand a marker to the handler instead of throwing. */
export function tolerateMalformedRequests(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(service) as Array<[string, grpc.MethodDefinition<unknown, unknown>]>) {
    const deserialize = method.requestDeserialize;
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return deserialize(bytes);
        } catch (e) {
          return { [MALFORMED]: `the request body is not a valid protobuf message for ${method.path.slice(1)} (${e instanceof Error ? e.message : String(e)})` } satisfies MalformedMarker;
        }
      },
    };
  }
  return out as grpc.ServiceDefinition;
}

/** The INVALID_ARGUMENT error for a message that did not decode, or null for a good one. */
export function malformedRequestError(message: unknown): EngramError | null {
  if (typeof message !== 'object' || message === null || !(MALFORMED in message)) return null;
  return new EngramError('INVALID_ARGUMENT', (message as MalformedMarker)[MALFORMED]);
}
