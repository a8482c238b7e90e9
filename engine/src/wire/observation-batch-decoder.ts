// Decodes the one message that carries nearly every byte an engine receives, a ClientMessage
// holding an ObservationBatch, straight from the wire bytes into the plain objects protobufjs would
// give (the same fields, defaults and types), without protobufjs's message instances and their
// conversion to objects. It reads only the encoding a protobuf writer produces for this message;
// anything else (another body, an unknown field, a batch field given twice, a varint of more than
// 7 bytes, truncated bytes) is left to protobufjs, so what is accepted and how a bad message is
// refused stay exactly as they were. `npm run bench:ingest-floor` measures the gain.
import type * as grpc from '@grpc/grpc-js';
import type { ClientMessage__Output } from '../generated/engram/v1/ClientMessage.js';
import type { Observation__Output } from '../generated/engram/v1/Observation.js';

/** A tag is field number << 3 | wire type (0 varint, 2 length-delimited); these are the plain ones. */
const TAG = {
  clientMessageBatch: (2 << 3) | 2,
  batchObservation: (1 << 3) | 2, batchId: (2 << 3) | 0,
  id: (1 << 3) | 2, embedding: (2 << 3) | 2, content: (3 << 3) | 2, metadata: (4 << 3) | 2, timestampMs: (5 << 3) | 0, sequence: (6 << 3) | 0,
  mapKey: (1 << 3) | 2, mapValue: (2 << 3) | 2,
} as const;
/** A varint of at most 7 bytes is below 2^49: exact as a number, and as protobufjs converts it. */
const MAX_VARINT_BYTES = 7;

/** Thrown inside the decoder when the bytes are not the plain encoding it reads: use protobufjs. */
class NotPlainEncoding extends Error {}
const notPlain = new NotPlainEncoding();

class WireReader {
  constructor(readonly buf: Buffer, public at: number, readonly end: number) {}

  get done(): boolean {
    return this.at >= this.end;
  }

  varint(): number {
    let value = 0;
    for (let shift = 0, n = 0; n < MAX_VARINT_BYTES; n++, shift += 7) {
      if (this.at >= this.end) throw notPlain;
      const byte = this.buf[this.at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
    throw notPlain;
  }

  /** The end of a length-delimited field whose length has just been read. */
  fieldEnd(): number {
    const length = this.varint();
    const end = this.at + length;
    if (end > this.end) throw notPlain;
    return end;
  }

  string(): string {
    const end = this.fieldEnd();
    const s = this.buf.toString('utf8', this.at, end);
    this.at = end;
    return s;
  }

  bytes(): Buffer {
    const end = this.fieldEnd();
    const b = this.buf.subarray(this.at, end);
    this.at = end;
    return b;
  }
}

const EMPTY = Buffer.alloc(0);

function mapEntry(r: WireReader, into: Record<string, string>): void {
  const end = r.fieldEnd();
  const entry = new WireReader(r.buf, r.at, end);
  let key = '';
  let value = '';
  while (!entry.done) {
    const tag = entry.varint();
    if (tag === TAG.mapKey) key = entry.string();
    else if (tag === TAG.mapValue) value = entry.string();
    else throw notPlain;
  }
  into[key] = value;
  r.at = end;
}

function observation(r: WireReader): Observation__Output {
  const end = r.fieldEnd();
  const o = new WireReader(r.buf, r.at, end);
  const out: Observation__Output = { metadata: {}, id: '', embedding: EMPTY, content: '', timestampMs: 0, sequence: 0 };
  while (!o.done) {
    switch (o.varint()) {
      case TAG.id: out.id = o.string(); break;
      case TAG.embedding: out.embedding = o.bytes(); break;
      case TAG.content: out.content = o.string(); break;
      case TAG.metadata: mapEntry(o, out.metadata); break;
      case TAG.timestampMs: out.timestampMs = o.varint(); break;
      case TAG.sequence: out.sequence = o.varint(); break;
      default: throw notPlain;
    }
  }
  r.at = end;
  return out;
}

/** A ClientMessage with an ObservationBatch body, or null when protobufjs should decode `bytes`. */
function observationBatchMessage(bytes: Buffer): ClientMessage__Output | null {
  const r = new WireReader(bytes, 0, bytes.length);
  if (r.done || r.varint() !== TAG.clientMessageBatch) return null;
  const end = r.fieldEnd();
  if (end !== r.end) return null; // more fields after the body: protobufjs merges them
  const batch = new WireReader(bytes, r.at, end);
  const observations: Observation__Output[] = [];
  let batchId = 0;
  while (!batch.done) {
    const tag = batch.varint();
    if (tag === TAG.batchObservation) observations.push(observation(batch));
    else if (tag === TAG.batchId) batchId = batch.varint();
    else return null;
  }
  return { observations: { observations, batchId }, body: 'observations' };
}

/** `fallback` (protobufjs) with a fast path for observation batches that decodes to the same objects. */
export function decodeClientMessage(bytes: Buffer, fallback: (bytes: Buffer) => ClientMessage__Output): ClientMessage__Output {
  try {
    return observationBatchMessage(bytes) ?? fallback(bytes);
  } catch (e) {
    if (e instanceof NotPlainEncoding) return fallback(bytes);
    throw e;
  }
}

/** The Streaming service definition with ObserveStream's messages read by `decodeClientMessage`. */
export function withFastObservationBatches(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const observe = service.ObserveStream as grpc.MethodDefinition<unknown, unknown>;
  const protobufjs = observe.requestDeserialize as (bytes: Buffer) => ClientMessage__Output;
  return { ...service, ObserveStream: { ...observe, requestDeserialize: (bytes: Buffer) => decodeClientMessage(bytes, protobufjs) } };
}
