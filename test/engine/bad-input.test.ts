// Every kind of bad input gets a precise gRPC status or a REJECTED ack naming the problem (quoting
// at most a short prefix of it), and the engine keeps serving a healthy session streaming beside
// the bad ones.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeVector } from '../../engine/dist/client/index.js';
import type { Ack__Output } from '../../engine/dist/generated/engram/v1/Ack.js';
import type { ClientMessage } from '../../engine/dist/generated/engram/v1/ClientMessage.js';
import { startEngine, type EngineProcess } from '../helpers/engine-process.js';
import { rawBytesStream, rawStream, rawUnary } from '../helpers/raw-stream.js';
import { clusteredObservations, STORED_DIGITS } from '../helpers/vectors.js';

const DIM = 32;
const values = (v?: number[]) => Float32Array.from(v ?? Array.from({ length: DIM }, (_, i) => Math.sin(i)));
const vector = (v?: number[]) => encodeVector(values(v));
const obs = (sequence: number, overrides: Record<string, unknown> = {}) => ({ id: `o-${sequence}`, embedding: vector(), content: '', metadata: {}, timestampMs: 0, sequence, ...overrides });
const init = (memorySpace: string): ClientMessage => ({ init: { memorySpace, clientBufferSize: 0, honoursBackpressure: false, maxBatchSize: 10, tenant: '' } });

describe('bad input', () => {
  let engine: EngineProcess;
  let healthy: Promise<{ accepted: number; indexed: number }>;

  beforeAll(async () => {
    engine = await startEngine({ 'hnsw.dimension': DIM }, ['--max-message-bytes', String(1024 * 1024), '--max-batch', '100']);
    const client = engine.client();
    const stream = await client.openStream({ memorySpace: 'healthy', maxBatch: 10 });
    healthy = (async () => {
      for (const o of clusteredObservations('healthy', 2000, DIM)) await stream.send(o);
      return stream.close({ drain: true });
    })();
  });

  afterAll(async () => {
    expect(await engine.stop()).toBe(0);
  });

  describe('on the stream itself', () => {
    it.each([
      ['observations before init', [{ observations: { batchId: 1, observations: [obs(1)] } }], status.FAILED_PRECONDITION, 'the first message on a stream must be init, got observations'],
      ['an empty memory space id', [init('')], status.INVALID_ARGUMENT, 'memory space id is empty'],
      ['a malformed memory space id', [init('Bad Space!')], status.INVALID_ARGUMENT, "memory space id 'Bad Space!' must be 3-64 characters of [a-z0-9_-]"],
      ['a too short memory space id', [init('ab')], status.INVALID_ARGUMENT, 'must be 3-64 characters'],
      ['a second init', [init('twice'), init('twice')], status.FAILED_PRECONDITION, 'init was already sent on this stream'],
      ['a batch over the engine limit', [init('big-batch'), { observations: { batchId: 1, observations: Array.from({ length: 101 }, (_, i) => obs(i + 1)) } }], status.INVALID_ARGUMENT, "a batch of 101 observations exceeds the engine's limit of 100"],
      ['a message over the size limit', [init('huge'), { observations: { batchId: 1, observations: [obs(1, { content: 'x'.repeat(2 * 1024 * 1024) })] } }], status.RESOURCE_EXHAUSTED, 'larger than max'],
    ] as Array<[string, ClientMessage[], number, string]>)('ends the call for %s', async (_name, messages, code, details) => {
      const call = rawStream(engine.address);
      for (const m of messages) call.write(m);
      const ended = await call.ended;
      expect(ended.code).toBe(code);
      expect(ended.details).toContain(details);
    });
  });

  describe('per observation', () => {
    it.each([
      ['a wrong dimension', obs(1, { embedding: encodeVector(new Array(DIM - 1).fill(0.5)) }), `has ${DIM - 1} dimensions; this engine expects ${DIM} float32 values`],
      ['a NaN value', obs(1, { embedding: vector(Array.from({ length: DIM }, (_, i) => (i === 3 ? Number.NaN : 1))) }), 'value 3 is NaN'],
      ['an infinite value', obs(1, { embedding: vector(Array.from({ length: DIM }, (_, i) => (i === 5 ? Number.NEGATIVE_INFINITY : 1))) }), 'value 5 is -Infinity'],
      ['an empty id', obs(1, { id: '' }), 'observation id is empty'],
      ['an overlong id', obs(1, { id: 'x'.repeat(300) }), 'observation id is 300 bytes; at most 256'],
      ['content over 64 KiB in UTF-8 (though under 64 Ki characters)', obs(1, { content: '€'.repeat(30_000) }), 'content is 90000 bytes (UTF-8); at most 65536'],
      ['metadata over 64 KiB', obs(1, { metadata: { a: 'x'.repeat(40_000), b: 'y'.repeat(40_000) } }), 'metadata is 80002 bytes (keys and values, UTF-8); at most 65536'],
      ['an overlong metadata key', obs(1, { metadata: { ['k'.repeat(300)]: 'v' } }), 'a metadata key is 300 bytes; at most 256'],
      ['an all-zero embedding under cosine', obs(1, { embedding: encodeVector(new Float32Array(DIM)) }), 'embedding is all zeros; the cosine metric needs a vector with a direction'],
    ])('rejects %s with a reason, consumes the sequence number, and goes on', async (_name, bad, reason) => {
      const call = rawStream(engine.address);
      call.write(init('per-obs'));
      await call.next((m) => m.initAck);
      call.write({ observations: { batchId: 1, observations: [bad, obs(2)] } });
      const acks = await call.next((m) => (m.acks?.inReplyTo === 1 ? m.acks.acks : undefined));
      expect(acks.map((a: Ack__Output) => [a.status, a.firstSequence, a.lastSequence, a.code])).toEqual([
        ['REJECTED', 1, 1, 'REJECT_INVALID_OBSERVATION'], ['ACCEPTED', 2, 2, 'REJECT_CODE_UNSPECIFIED'],
      ]);
      expect(acks[0]!.reason).toContain(reason);
      call.end();
      expect((await call.ended).code).toBe(status.OK);
    });

    it('rejects a sequence gap and a duplicate without consuming anything', async () => {
      const call = rawStream(engine.address);
      call.write(init('sequences'));
      await call.next((m) => m.initAck);
      call.write({ observations: { batchId: 1, observations: [obs(1), obs(3), obs(1), obs(2)] } });
      const acks = await call.next((m) => (m.acks?.inReplyTo === 1 ? m.acks.acks : undefined));
      expect(acks.map((a: Ack__Output) => [a.status, Number(a.firstSequence), a.code, a.reason])).toEqual([
        ['ACCEPTED', 1, 'REJECT_CODE_UNSPECIFIED', ''],
        ['REJECTED', 3, 'REJECT_SEQUENCE_GAP', 'sequence 3 skips ahead; expected 2'],
        ['REJECTED', 1, 'REJECT_SEQUENCE_DUPLICATE', 'sequence 1 was already used; expected 2'],
        ['ACCEPTED', 2, 'REJECT_CODE_UNSPECIFIED', ''],
      ]);
      call.end();
      await call.ended;
    });

    it('keeps every accepted vector of a batch exactly, with refused observations between them', async () => {
      // Each accepted observation keeps its own vector: none lost, swapped or overwritten by a
      // refused neighbour (a NaN, a wrong length, a gap) decoded between them.
      const own = (n: number) => values(Array.from({ length: DIM }, (_, i) => n + i / DIM));
      const half = Array.from({ length: DIM }, (_, i) => (i < DIM / 2 ? 7 : Number.NaN));
      const call = rawStream(engine.address);
      call.write(init('mixed-batch'));
      await call.next((m) => m.initAck);
      call.write({ observations: { batchId: 1, observations: [
        obs(1, { embedding: encodeVector(own(1)) }), obs(2, { embedding: encodeVector(values(half)) }),
        obs(3, { embedding: encodeVector(own(3)) }), obs(5), obs(4, { embedding: vector().subarray(4) }),
        obs(5, { embedding: encodeVector(own(5)) }),
      ] } });
      const acks = await call.next((m) => (m.acks?.inReplyTo === 1 ? m.acks.acks : undefined));
      expect(acks.map((a: Ack__Output) => [a.status, Number(a.firstSequence)])).toEqual([
        ['ACCEPTED', 1], ['REJECTED', 2], ['ACCEPTED', 3], ['REJECTED', 5], ['REJECTED', 4], ['ACCEPTED', 5],
      ]);
      call.end();
      await call.ended;
      const fetched = await engine.client().fetch('mixed-batch', ['o-1', 'o-3', 'o-5']);
      for (const o of fetched.observations) {
        // the index holds each vector normalised (cosine): compare directions, at the precision it stores
        const sent = own(Number(o.id.slice(2)));
        const norm = Math.hypot(...sent);
        const got = new Float32Array(new Uint8Array(o.embedding).buffer);
        expect(got.length).toBe(DIM);
        got.forEach((x, i) => expect(x, `${o.id}[${i}]`).toBeCloseTo(sent[i]! / norm, STORED_DIGITS));
      }
      expect(fetched.observations.map((o) => o.id).sort()).toEqual(['o-1', 'o-3', 'o-5']);
    });

    it.each([
      ['sequence 0', 0, 'sequence 0 is not a sequence number: they start at 1; expected 1'],
      ['a sequence past 2^53 - 1, without printing it rounded', '9223372036854775808', 'sequence is above 9007199254740991 (2^53 - 1), the largest this engine takes; expected 1'],
    ])('refuses %s without consuming anything', async (_name, sequence, reason) => {
      const call = rawStream(engine.address);
      call.write(init('bad-sequences'));
      await call.next((m) => m.initAck);
      call.write({ observations: { batchId: 1, observations: [obs(1, { sequence }), obs(1)] } });
      const acks = await call.next((m) => (m.acks?.inReplyTo === 1 ? m.acks.acks : undefined));
      expect(acks.map((a: Ack__Output) => [a.status, a.code, a.reason])).toEqual([
        ['REJECTED', 'REJECT_SEQUENCE_GAP', reason], ['ACCEPTED', 'REJECT_CODE_UNSPECIFIED', ''],
      ]);
      call.end();
      await call.ended;
    });

    it('answers a stream message that is not protobuf with INVALID_ARGUMENT', async () => {
      const call = rawBytesStream(engine.address, '/engram.v1.Streaming/ObserveStream');
      call.write(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])); // field 1, a length far past the end
      const ended = await call.ended;
      expect(ended.code).toBe(status.INVALID_ARGUMENT);
      expect(ended.details).toContain('the request body is not a valid protobuf message for engram.v1.Streaming/ObserveStream');
    });
  });

  describe('on recall', () => {
    it.each([
      ['an unknown memory space', { memorySpace: 'nowhere', vector: values(), k: 3 }, status.NOT_FOUND, "memory space 'nowhere' does not exist"],
      ['a malformed memory space id', { memorySpace: 'NO', vector: values(), k: 3 }, status.INVALID_ARGUMENT, 'must be 3-64 characters'],
      ['a wrong dimension', { memorySpace: 'healthy', vector: values([1, 2, 3]), k: 3 }, status.INVALID_ARGUMENT, `query vector has 3 dimensions; this engine expects ${DIM}`],
      ['a NaN in the query', { memorySpace: 'healthy', vector: values(new Array(DIM).fill(Number.NaN)), k: 3 }, status.INVALID_ARGUMENT, 'query vector value 0 is NaN'],
      ['k = 0', { memorySpace: 'healthy', vector: values(), k: 0 }, status.INVALID_ARGUMENT, 'k must be in [1, 1000], got 0'],
      ['k too large', { memorySpace: 'healthy', vector: values(), k: 5000 }, status.INVALID_ARGUMENT, 'k must be in [1, 1000], got 5000'],
      ['an all-zero query under cosine', { memorySpace: 'healthy', vector: new Float32Array(DIM), k: 3 }, status.INVALID_ARGUMENT, 'query vector is all zeros'],
    ])('answers %s with a precise status', async (_name, request, code, details) => {
      await expect(engine.client().recall(request)).rejects.toMatchObject({ code, details: expect.stringContaining(details) });
    });

    it('answers a body that is not protobuf with INVALID_ARGUMENT, not INTERNAL', async () => {
      const answer = await rawUnary(engine.address, '/engram.v1.Streaming/Recall', Buffer.from([0x12, 0xff, 0xff, 0xff, 0xff, 0x0f]));
      expect(answer).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringContaining('not a valid protobuf message for engram.v1.Streaming/Recall') });
    });
  });

  describe('on fetch', () => {
    it('answers an unknown memory space with NOT_FOUND, as recall does', async () => {
      await expect(engine.client().fetch('nowhere', ['a'])).rejects.toMatchObject({
        code: status.NOT_FOUND, details: "memory space 'nowhere' does not exist",
      });
    });
  });

  describe('in error messages', () => {
    it('quotes at most a short prefix of what a client sent', async () => {
      const client = engine.client();
      const long = 'x'.repeat(20_000);
      const config = await client.applyConfig({ profile: long }).catch((e: { details: string }) => e);
      expect((config as { details: string }).details).toContain('(20000 characters)');
      expect((config as { details: string }).details.length).toBeLessThan(400);
      const tenant = await client.openStream({ memorySpace: 'healthy', tenant: long }).catch((e: { code: number; details: string }) => e);
      expect(tenant).toMatchObject({ code: status.PERMISSION_DENIED, details: expect.stringContaining('(20000 characters)') });
      expect((tenant as { details: string }).details.length).toBeLessThan(400);
    });
  });

  describe('on config apply', () => {
    it.each([
      ['min batch over max batch', { batch: { min: 600, max: 500 } }, "'batch.min' (600) must not exceed 'batch.max' (500)"],
      ['zero workers', { workers: 0 }, "'workers' must be in [1, 32], got 0"],
      ['a negative capacity', { queue: { capacity: -1 } }, "'queue.capacity' must be in [10, 2000000], got -1"],
      ['an unknown key', { turbo: true }, "unknown key 'turbo'"],
    ])('refuses %s as INVALID_ARGUMENT and keeps the running config', async (_name, patch, details) => {
      const client = engine.client();
      const before = await client.getConfig();
      await expect(client.applyConfig(patch)).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringContaining(details) });
      expect((await client.getConfig()).hash).toBe(before.hash);
    });

    it.each([
      ['dimension', { dimension: 64 }, 'hnsw.dimension cannot change while memory spaces exist'],
      ['metric', { metric: 'l2' }, 'hnsw.metric cannot change while memory spaces exist'],
    ])('refuses to change the vector %s once memory spaces exist', async (_name, hnsw, details) => {
      await expect(engine.client().applyConfig({ hnsw })).rejects.toMatchObject({
        code: status.FAILED_PRECONDITION, details: expect.stringContaining(details),
      });
    });
  });

  it('kept serving the healthy session throughout', async () => {
    expect(await healthy).toMatchObject({ accepted: 2000, indexed: 2000 });
    const res = await fetch(`${engine.httpUrl}/readyz`);
    expect(res.status).toBe(200);
  });
});
