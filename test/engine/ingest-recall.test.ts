// Streams observations into several memory spaces of a real engine (balanced profile, 768
// dimensions) and checks that every one is acknowledged INDEXED and is its own nearest neighbour.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine, type EngineProcess } from '../helpers/engine-process.js';
import { clusteredObservations } from '../helpers/vectors.js';

const SPACES = ['alpha', 'beta', 'gamma', 'delta'];
const PER_SPACE = 400;
const DIMENSION = 768;

describe('ingest and recall through gRPC', () => {
  let engine: EngineProcess;
  const data = new Map(SPACES.map((s, i) => [s, clusteredObservations(s, PER_SPACE, DIMENSION, i + 1)]));
  const counts = new Map<string, { accepted: number; indexed: number; rejected: number }>();

  beforeAll(async () => {
    engine = await startEngine();
    const client = engine.client();
    await Promise.all(SPACES.map(async (space) => {
      const stream = await client.openStream({ memorySpace: space, maxBatch: 64 });
      for (const o of data.get(space)!) await stream.send(o);
      counts.set(space, await stream.close({ drain: true }));
    }));
  });

  afterAll(async () => {
    expect(await engine.stop()).toBe(0);
  });

  it('acknowledges every observation ACCEPTED and then INDEXED', () => {
    for (const space of SPACES) {
      expect(counts.get(space)).toMatchObject({ accepted: PER_SPACE, indexed: PER_SPACE, rejected: 0 });
    }
  });

  it('recalls every acknowledged observation as its own nearest neighbour, with its content and metadata', async () => {
    const client = engine.client();
    let misses = 0;
    for (const space of SPACES) {
      for (const o of data.get(space)!) {
        const result = await client.recall({ memorySpace: space, vector: o.embedding, k: 1 });
        if (result.hits[0]?.id !== o.id) misses++;
      }
    }
    expect(misses).toBe(0);
    const first = data.get('alpha')![7]!;
    const hit = (await client.recall({ memorySpace: 'alpha', vector: first.embedding, k: 3 })).hits[0]!;
    expect(hit).toMatchObject({ id: first.id, content: first.content, metadata: first.metadata });
    expect(hit.similarity).toBeCloseTo(1, 4);
  });

  it('fetches stored observations by id exactly, and names the ids it does not hold', async () => {
    const client = engine.client();
    const wanted = data.get('delta')!.slice(10, 13);
    const res = await client.fetch('delta', [...wanted.map((o) => o.id), 'delta-nope', 'alpha-0']);
    expect(res.missingIds).toEqual(['delta-nope', 'alpha-0']);
    expect(res.observations.map((o) => o.id)).toEqual(wanted.map((o) => o.id));
    const first = res.observations[0]!;
    expect(first).toMatchObject({ content: wanted[0]!.content, metadata: wanted[0]!.metadata });
    // Stored under cosine as a unit vector: the same direction as the one sent.
    const stored = new Float32Array(first.embedding.buffer.slice(first.embedding.byteOffset, first.embedding.byteOffset + first.embedding.byteLength));
    const sent = wanted[0]!.embedding;
    const dot = stored.reduce((n, x, i) => n + x * sent[i]!, 0) / Math.hypot(...sent);
    expect(dot).toBeCloseTo(1, 5);
    await expect(client.fetch('no-such-space', ['x'])).rejects.toMatchObject({ code: 5, details: "memory space 'no-such-space' does not exist" }); // NOT_FOUND, as Recall
    await expect(client.fetch('delta', [])).rejects.toMatchObject({ details: expect.stringContaining('ids must list 1 to 1000') });
  });

  it('keeps each space\'s vectors in that space only', async () => {
    const stats = await engine.client().stats();
    for (const space of SPACES) {
      expect(stats.spaces.find((s) => s.memorySpace === space)?.vectors).toBe(PER_SPACE);
    }
    const foreign = data.get('beta')![0]!;
    const hits = (await engine.client().recall({ memorySpace: 'alpha', vector: foreign.embedding, k: 5 })).hits;
    expect(hits.every((h) => h.id.startsWith('alpha-'))).toBe(true);
  });

  it('replaces an observation sent again with the same id instead of adding a second copy', async () => {
    const client = engine.client();
    const stream = await client.openStream({ memorySpace: 'gamma' });
    const replacement = clusteredObservations('other', 1, DIMENSION, 99)[0]!;
    await stream.send({ ...replacement, id: 'gamma-0', content: 'replaced' });
    await stream.close({ drain: true });
    const hit = (await client.recall({ memorySpace: 'gamma', vector: replacement.embedding, k: 1 })).hits[0]!;
    expect(hit).toMatchObject({ id: 'gamma-0', content: 'replaced' });
    expect((await client.stats()).spaces.find((s) => s.memorySpace === 'gamma')?.vectors).toBe(PER_SPACE);
  });
});
