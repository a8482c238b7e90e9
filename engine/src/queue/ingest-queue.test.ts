import { describe, expect, it } from 'vitest';
import { IngestQueue, type IndexSink, type QueuedObservation } from './ingest-queue.js';

const sink: IndexSink = { indexed: () => {}, failed: () => {} };
function obs(space: string, sequence: number): QueuedObservation {
  return { space, id: `${space}-${sequence}`, sequence, sink, vector: new Float32Array(4), content: '', metadata: null, acceptedAt: 0, lsn: sequence };
}

describe('IngestQueue', () => {
  it('reserves the high-priority share of capacity for recalls', () => {
    const q = new IngestQueue(1000, 0.1);
    expect(q.observationCapacity).toBe(900);
    expect(q.recallCapacityLimit).toBe(100);
    for (let i = 0; i < 100; i++) expect(q.tryAdmitRecall()).toBe(true);
    expect(q.tryAdmitRecall()).toBe(false);
    q.releaseRecall();
    expect(q.tryAdmitRecall()).toBe(true);
  });

  it('keeps each space in order, apart from the others', () => {
    const q = new IngestQueue(100, 0.1);
    q.push('a', [obs('a', 1), obs('a', 2), obs('a', 3)]);
    q.push('b', [obs('b', 1)]);
    expect(q.take('a', 2).map((o) => o.sequence)).toEqual([1, 2]);
    expect(q.depthOf('a')).toBe(1);
    expect(q.take('a', 10).map((o) => o.sequence)).toEqual([3]);
    expect(q.depth).toBe(1);
    expect(q.oldest('b')?.id).toBe('b-1');
  });

  it('counts free slots and pressure, and keeps what it holds when shrunk below its depth', () => {
    const q = new IngestQueue(110, 0.1 / 1.1);
    q.push('a', Array.from({ length: 80 }, (_, i) => obs('a', i + 1)));
    expect(q.free).toBe(20);
    expect(q.pressure).toBeCloseTo(0.8);
    q.resize(50, 0.1);
    expect(q.depth).toBe(80);
    expect(q.free).toBe(0);
    expect(q.memoryBytes).toBeGreaterThan(80 * 16);
  });

  it('counts reserved slots as taken until the push that uses them', () => {
    const q = new IngestQueue(110, 0.1);
    expect(q.free).toBe(99);
    q.reserve(40);
    expect(q.free).toBe(59);
    q.push('a', [obs('a', 1), obs('a', 2)], 2);
    expect(q.free).toBe(59);
    expect(q.pressure).toBeCloseTo(40 / 99);
    q.release(38);
    expect(q.free).toBe(97);
  });

  it('puts work back at the head of a space, in order, ahead of what is queued', () => {
    const q = new IngestQueue(1000, 0.1);
    q.push('a', [obs('a', 5), obs('a', 6)]);
    q.pushFront('a', [obs('a', 3), obs('a', 4)]);
    q.pushFront('a', [obs('a', 1), obs('a', 2)]);
    expect(q.depth).toBe(6);
    expect(q.take('a', 10).map((o) => o.sequence)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
