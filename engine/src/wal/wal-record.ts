// One write-ahead-log record per accepted observation, framed so a reader can tell a whole record
// from a torn or corrupt one:
//
//   u32 payload length | u32 CRC-32 of the payload | payload
//   payload = u8 kind (1 = observation) | u48 LSN | u16 space | u16 id | u32 content | u32 metadata
//             (lengths in bytes) | u32 vector bytes | the five fields, in that order
//
// Little-endian throughout; strings are UTF-8, metadata is JSON (empty = none), the vector is the
// raw float32 bytes. The LSN (log sequence number) orders records across segments and spaces.
import { crc32 } from 'node:zlib';

export const FRAME_HEADER_BYTES = 8;
const PAYLOAD_HEADER_BYTES = 1 + 6 + 2 + 2 + 4 + 4 + 4;
const KIND_OBSERVATION = 1;
/** No record is larger than this: a bigger length field is corruption, not a record. */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

export interface WalObservation {
  lsn: number;
  space: string;
  id: string;
  content: string;
  metadata: Record<string, string> | null;
  vector: Float32Array;
}

/** A record's field sizes, measured once so it can be written straight into a larger buffer. */
export interface RecordLayout {
  metadata: string;
  space: number;
  id: number;
  content: number;
  metadataBytes: number;
  vector: number;
  /** Frame included. */
  total: number;
}

export function measureRecord(o: Omit<WalObservation, 'lsn'>): RecordLayout {
  const metadata = o.metadata ? JSON.stringify(o.metadata) : '';
  const layout = {
    metadata, space: Buffer.byteLength(o.space, 'utf8'), id: Buffer.byteLength(o.id, 'utf8'),
    content: Buffer.byteLength(o.content, 'utf8'), metadataBytes: Buffer.byteLength(metadata, 'utf8'), vector: o.vector.byteLength, total: 0,
  };
  layout.total = FRAME_HEADER_BYTES + PAYLOAD_HEADER_BYTES + layout.space + layout.id + layout.content + layout.metadataBytes + layout.vector;
  return layout;
}

/** Writes one record (frame included) at `offset` of `out`, which has `layout.total` bytes free there. */
export function writeRecord(out: Buffer, offset: number, o: Omit<WalObservation, 'lsn'>, lsn: number, layout: RecordLayout): void {
  let at = offset + FRAME_HEADER_BYTES;
  out.writeUInt8(KIND_OBSERVATION, at); at += 1;
  out.writeUIntLE(lsn, at, 6); at += 6;
  out.writeUInt16LE(layout.space, at); at += 2;
  out.writeUInt16LE(layout.id, at); at += 2;
  out.writeUInt32LE(layout.content, at); at += 4;
  out.writeUInt32LE(layout.metadataBytes, at); at += 4;
  out.writeUInt32LE(layout.vector, at); at += 4;
  at += out.write(o.space, at, 'utf8');
  at += out.write(o.id, at, 'utf8');
  at += out.write(o.content, at, 'utf8');
  at += out.write(layout.metadata, at, 'utf8');
  out.set(new Uint8Array(o.vector.buffer, o.vector.byteOffset, layout.vector), at);
  const payloadBytes = layout.total - FRAME_HEADER_BYTES;
  out.writeUInt32LE(payloadBytes, offset);
  out.writeUInt32LE(crc32(out.subarray(offset + FRAME_HEADER_BYTES, offset + layout.total)), offset + 4);
}

/** Encodes one record (frame included) into a buffer of its own. */
export function encodeRecord(o: Omit<WalObservation, 'lsn'>, lsn: number): Buffer {
  const layout = measureRecord(o);
  const out = Buffer.allocUnsafe(layout.total);
  writeRecord(out, 0, o, lsn, layout);
  return out;
}

export type FrameResult =
  | { kind: 'record'; record: WalObservation; bytes: number }
  /** Not enough bytes for a whole frame: the end of the log, or a torn write. */
  | { kind: 'incomplete' }
  | { kind: 'corrupt'; reason: string };

/** Decodes the frame at `offset` of `buf` (which may end mid-frame). */
export function decodeFrame(buf: Buffer, offset: number): FrameResult {
  if (buf.length - offset < FRAME_HEADER_BYTES) return { kind: 'incomplete' };
  const length = buf.readUInt32LE(offset);
  if (length < PAYLOAD_HEADER_BYTES || length > MAX_RECORD_BYTES) return { kind: 'corrupt', reason: `record length ${length} is impossible` };
  if (buf.length - offset < FRAME_HEADER_BYTES + length) return { kind: 'incomplete' };
  const payload = buf.subarray(offset + FRAME_HEADER_BYTES, offset + FRAME_HEADER_BYTES + length);
  if (crc32(payload) !== buf.readUInt32LE(offset + 4)) return { kind: 'corrupt', reason: 'checksum mismatch' };
  const record = decodePayload(payload);
  if (typeof record === 'string') return { kind: 'corrupt', reason: record };
  return { kind: 'record', record, bytes: FRAME_HEADER_BYTES + length };
}

function decodePayload(p: Buffer): WalObservation | string {
  if (p.readUInt8(0) !== KIND_OBSERVATION) return `unknown record kind ${p.readUInt8(0)}`;
  const lsn = p.readUIntLE(1, 6);
  const lengths = [p.readUInt16LE(7), p.readUInt16LE(9), p.readUInt32LE(11), p.readUInt32LE(15), p.readUInt32LE(19)];
  if (PAYLOAD_HEADER_BYTES + lengths.reduce((a, b) => a + b, 0) !== p.length) return 'field lengths do not add up to the record length';
  let at = PAYLOAD_HEADER_BYTES;
  const [space, id, content, metadata, vector] = lengths.map((n) => {
    const part = p.subarray(at, at + n);
    at += n;
    return part;
  }) as [Buffer, Buffer, Buffer, Buffer, Buffer];
  if (vector.length % 4 !== 0) return `vector of ${vector.length} bytes is not float32`;
  const floats = new Float32Array(vector.length / 4);
  new Uint8Array(floats.buffer).set(vector);
  return {
    lsn,
    space: space.toString('utf8'),
    id: id.toString('utf8'),
    content: content.toString('utf8'),
    metadata: metadata.length > 0 ? (JSON.parse(metadata.toString('utf8')) as Record<string, string>) : null,
    vector: floats,
  };
}
