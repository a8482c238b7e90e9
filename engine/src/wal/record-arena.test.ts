import { describe, expect, it } from 'vitest';
import { RecordArena } from './record-arena.js';
import { decodeFrame } from './wal-record.js';

function entry(i: number, floats = 256) {
  return { space: 'space', id: `id-${i}`, content: '', metadata: null, vector: new Float32Array(floats).fill(i) };
}

/** Every record in `buffers`, in order. */
function lsnsIn(buffers: Buffer[]): number[] {
  const out: number[] = [];
  for (const buf of buffers) {
    for (let at = 0; at < buf.length;) {
      const frame = decodeFrame(buf, at);
      if (frame.kind !== 'record') throw new Error(`bad frame at ${at}: ${frame.kind}`);
      out.push(frame.record.lsn);
      at += frame.bytes;
    }
  }
  return out;
}

describe('record arena', () => {
  it('hands out whole records in order across slabs', () => {
    const arena = new RecordArena();
    const out: Buffer[] = [];
    let bytes = 0;
    for (let i = 1; i <= 2000; i++) bytes += arena.add(entry(i), i, out); // ~2 MB: three slabs
    arena.seal(out);
    expect(out.length).toBeGreaterThanOrEqual(2);
    expect(out.reduce((n, b) => n + b.length, 0)).toBe(bytes);
    expect(lsnsIn(out)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
  });

  it('keeps sealed slices intact while later records are added', () => {
    const arena = new RecordArena();
    const first: Buffer[] = [];
    arena.add(entry(1), 1, first);
    arena.seal(first);
    const copy = Buffer.from(first[0]!);
    const second: Buffer[] = [];
    for (let i = 2; i < 50; i++) arena.add(entry(i), i, second);
    arena.seal(second);
    expect(first[0]!.equals(copy)).toBe(true);
    expect(lsnsIn(second)[0]).toBe(2);
  });

  it('gives a record larger than a slab a buffer of its own, after what came before it', () => {
    const arena = new RecordArena();
    const out: Buffer[] = [];
    arena.add(entry(1), 1, out);
    arena.add(entry(2, 300_000), 2, out);
    arena.add(entry(3), 3, out);
    arena.seal(out);
    expect(lsnsIn(out)).toEqual([1, 2, 3]);
  });

  it('drops the open slice on discard', () => {
    const arena = new RecordArena();
    const out: Buffer[] = [];
    arena.add(entry(1), 1, out);
    arena.discard();
    arena.add(entry(2), 2, out);
    arena.seal(out);
    expect(lsnsIn(out)).toEqual([2]);
  });
});
