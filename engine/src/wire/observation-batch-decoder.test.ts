import { describe, expect, it, vi } from 'vitest';
import type { ClientMessage__Output } from '../generated/engram/v1/ClientMessage.js';
import { loadEngramProto } from './load-proto.js';
import { decodeClientMessage } from './observation-batch-decoder.js';

const method = loadEngramProto().engram.v1.Streaming.service.ObserveStream;
const protobufjs = (bytes: Buffer) => method.requestDeserialize(bytes) as ClientMessage__Output;
const encode = (message: object) => method.requestSerialize(message as never);

/** A seeded generator, so a failing case can be reproduced. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const ALPHABET = ['a', 'Z', '0', '-', ' ', 'é', '漢', '😀', '\u0000'];

function randomBatch(next: () => number): object {
  const text = (max: number) => Array.from({ length: Math.floor(next() * max) }, () => ALPHABET[Math.floor(next() * ALPHABET.length)]).join('');
  const count = Math.floor(next() * 5);
  const observations = Array.from({ length: count }, () => {
    const metadata: Record<string, string> = {};
    for (let i = Math.floor(next() * 4); i > 0; i--) metadata[text(6)] = text(10);
    const o: Record<string, unknown> = { id: text(12), content: text(40), metadata };
    if (next() < 0.8) o.embedding = Buffer.from(new Float32Array(Array.from({ length: Math.floor(next() * 8) }, () => next() * 2 - 1)).buffer);
    if (next() < 0.8) o.sequence = [1, 127, 128, 16_384, 2 ** 31, 2 ** 48 - 1][Math.floor(next() * 6)];
    if (next() < 0.8) o.timestampMs = Math.floor(next() * 2 ** 41);
    return o;
  });
  return { observations: { observations, batchId: Math.floor(next() * 1000) } };
}

/** Protobuf's encoding by hand, for messages no protobuf writer produces. */
const varint = (n: number): number[] => {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  out.push(n);
  return out;
};
const field = (tag: number, payload: number[]): number[] => [...varint(tag), ...varint(payload.length), ...payload];
const utf8 = (s: string) => [...Buffer.from(s)];

describe('decodeClientMessage', () => {
  it('decodes observation batches to exactly what protobufjs gives, without calling it', () => {
    const next = random(7);
    const fallback = vi.fn(protobufjs);
    for (let i = 0; i < 500; i++) {
      const bytes = encode(randomBatch(next));
      expect(decodeClientMessage(bytes, fallback)).toEqual(protobufjs(bytes));
    }
    expect(fallback).not.toHaveBeenCalled();
  });

  it('gives the embedding as a view of the received bytes, not a copy', () => {
    const bytes = encode({ observations: { observations: [{ id: 'a', embedding: Buffer.from([1, 2, 3, 4]), sequence: 1 }], batchId: 1 } });
    const embedding = decodeClientMessage(bytes, protobufjs).observations!.observations[0]!.embedding;
    expect(embedding.buffer).toBe(bytes.buffer);
  });

  it('leaves every other message to protobufjs, with the same result', () => {
    const batch = field(10, [...field(10, utf8('a')), 48, 1]);
    const cases: Buffer[] = [
      encode({ init: { memorySpace: 'space-1', maxBatchSize: 10 } }),
      encode({ close: { drain: true } }),
      Buffer.alloc(0),
      // an unknown field inside an observation
      Buffer.from(field(18, field(10, [...field(10, utf8('a')), 0x48, 5]))),
      // the batch body given twice: protobufjs merges them
      Buffer.from([...field(18, batch), ...field(18, batch)]),
      // a sequence past 2^53 (an 8-byte varint): converted as protobufjs converts it
      Buffer.from(field(18, field(10, [48, ...varint(2 ** 53 + 2)]))),
      // the id field as a varint: wrong wire type
      Buffer.from(field(18, field(10, [8, 1]))),
    ];
    for (const bytes of cases) {
      const fallback = vi.fn(protobufjs);
      expect(decodeClientMessage(bytes, fallback)).toEqual(protobufjs(bytes));
      expect(fallback).toHaveBeenCalledTimes(1);
    }
  });

  it('refuses truncated bytes as protobufjs does', () => {
    const bytes = encode({ observations: { observations: [{ id: 'abc', embedding: Buffer.alloc(16), sequence: 3 }], batchId: 2 } });
    for (const cut of [1, 5, bytes.length - 3, bytes.length - 1]) {
      const truncated = bytes.subarray(0, cut);
      expect(() => decodeClientMessage(truncated, protobufjs)).toThrow();
      expect(() => protobufjs(truncated)).toThrow();
    }
  });
});
