// A raw ObserveStream call (no client library), for sending what a well-behaved client never would.
import * as grpc from '@grpc/grpc-js';
import type { ClientMessage } from '../../engine/dist/generated/engram/v1/ClientMessage.js';
import type { ServerMessage__Output } from '../../engine/dist/generated/engram/v1/ServerMessage.js';
import { loadEngramProto } from '../../engine/dist/wire/load-proto.js';

export interface RawStream {
  write(message: ClientMessage): void;
  /** Waits for the next server message matching `pick`. */
  next<T>(pick: (m: ServerMessage__Output) => T | undefined, timeoutMs?: number): Promise<T>;
  /** Resolves with the status the call ended with. */
  ended: Promise<grpc.StatusObject | grpc.ServiceError>;
  end(): void;
}

export function rawStream(address: string): RawStream {
  const proto = loadEngramProto();
  const client = new proto.engram.v1.Streaming(address, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 * 1024 * 1024 });
  const call = client.ObserveStream();
  const received: ServerMessage__Output[] = [];
  const waiters: Array<() => void> = [];
  call.on('data', (m: ServerMessage__Output) => {
    received.push(m);
    for (const w of waiters.splice(0)) w();
  });
  const ended = new Promise<grpc.StatusObject | grpc.ServiceError>((resolve) => {
    call.on('error', (e: grpc.ServiceError) => resolve(e));
    call.on('status', (s: grpc.StatusObject) => {
      if (s.code === grpc.status.OK) resolve(s);
    });
  });
  void ended.then(() => client.close());
  return {
    write: (m) => call.write(m),
    end: () => call.end(),
    ended,
    next: async <T>(pick: (m: ServerMessage__Output) => T | undefined, timeoutMs = 5000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const index = received.findIndex((m) => pick(m) !== undefined);
        if (index >= 0) return pick(received.splice(index, 1)[0]!) as T;
        if (Date.now() > deadline) throw new Error('timed out waiting for a server message');
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
    },
  };
}

const bytesIdentity = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };

/** A bidi call that sends raw bytes as its messages (for bodies that are not protobuf at all). */
export function rawBytesStream(address: string, path: string): { write(bytes: Buffer): void; ended: Promise<grpc.StatusObject | grpc.ServiceError> } {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const call = client.makeBidiStreamRequest(path, bytesIdentity.serialize, bytesIdentity.deserialize);
  call.on('data', () => undefined);
  const ended = new Promise<grpc.StatusObject | grpc.ServiceError>((resolve) => {
    call.on('error', (e: grpc.ServiceError) => resolve(e));
    call.on('status', (s: grpc.StatusObject) => resolve(s));
  });
  void ended.then(() => client.close());
  return { write: (bytes) => call.write(bytes), ended };
}

/** A unary call with a raw byte body; resolves with the status it ended with. */
export function rawUnary(address: string, path: string, body: Buffer): Promise<grpc.ServiceError | { code: grpc.status.OK }> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, bytesIdentity.serialize, bytesIdentity.deserialize, body, (error) => {
      client.close();
      resolve(error ?? { code: grpc.status.OK });
    });
  });
}
