import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeRecord } from './wal-record.js';

const observation = {
  space: 'space-a', id: 'obs-1', content: 'héllo', metadata: { k: 'v' }, vector: Float32Array.from([0.5, -1.25, 3]),
};

describe('write-ahead log records', () => {
  it('round-trips every field', () => {
    const buf = encodeRecord(observation, 42);
    const frame = decodeFrame(buf, 0);
    expect(frame.kind).toBe('record');
    if (frame.kind !== 'record') return;
    expect(frame.bytes).toBe(buf.length);
    expect(frame.record).toEqual({ ...observation, lsn: 42 });
  });

  it('keeps a record without metadata as null', () => {
    const frame = decodeFrame(encodeRecord({ ...observation, metadata: null }, 1), 0);
    expect(frame.kind === 'record' && frame.record.metadata).toBeNull();
  });

  it.each([1, 7, 20])('reports a record cut %i bytes short as incomplete (a torn write)', (cut) => {
    const buf = encodeRecord(observation, 1);
    expect(decodeFrame(buf.subarray(0, buf.length - cut), 0)).toEqual({ kind: 'incomplete' });
  });

  it('reports a flipped payload byte as a checksum mismatch', () => {
    const buf = encodeRecord(observation, 1);
    buf[buf.length - 2]! ^= 0xff;
    expect(decodeFrame(buf, 0)).toEqual({ kind: 'corrupt', reason: 'checksum mismatch' });
  });

  it('reports an impossible length as corruption, not as a record to wait for', () => {
    const buf = encodeRecord(observation, 1);
    buf.writeUInt32LE(0xffffffff, 0);
    expect(decodeFrame(buf, 0)).toMatchObject({ kind: 'corrupt' });
  });
});
