import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_HNSW, type HnswConfig } from '../config/engine-config.js';
import { SpaceIndex } from './space-index.js';
import { createGraph, graphBytesPerVector, loadGraph } from './vector-graph.js';

const dir = mkdtempSync(join(tmpdir(), 'vector-graph-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DIM = 64;
const base: HnswConfig = { ...DEFAULT_HNSW, dimension: DIM, m: 8, efConstruction: 64, efSearch: 32 };
const KINDS: HnswConfig[] = [
  { ...base, backend: 'hnswlib', quantization: 'f32' },
  { ...base, backend: 'usearch', quantization: 'f32' },
  { ...base, backend: 'usearch', quantization: 'f16' },
];

/** Deterministic vectors: row i of `count` rows. */
function rows(count: number, seed = 1): Float32Array {
  const v = new Float32Array(count * DIM);
  for (let i = 0; i < v.length; i++) v[i] = Math.sin((i + 1) * 0.61 * seed) + Math.cos(i * 0.013 * seed);
  return v;
}

const row = (v: Float32Array, i: number) => v.subarray(i * DIM, (i + 1) * DIM);
const labels = (from: number, to: number) => Uint32Array.from({ length: to - from }, (_, i) => from + i);

describe.each(KINDS.map((k) => [`${k.backend} ${k.quantization}`, k] as const))('a %s graph', (_name, hnsw) => {
  it('finds each vector as its own nearest, grows past its capacity, and reads vectors back', () => {
    const graph = createGraph(hnsw, 16);
    const v = rows(300);
    graph.upsert(labels(0, 300), v, 1);
    expect(graph.count).toBe(300);
    for (const i of [0, 17, 299]) {
      const { labels: found, distances } = graph.search(row(v, i), 3, 64);
      expect(found[0]).toBe(i);
      expect(distances[0]).toBeLessThan(1e-3);
      const back = graph.vector(i);
      const cos = back.reduce((s, x, j) => s + x * (row(v, i)[j] as number), 0) / Math.hypot(...back) / Math.hypot(...row(v, i));
      expect(cos).toBeGreaterThan(0.9999);
    }
  });

  it('replaces a label\'s vector in place, and survives a save and load', () => {
    const graph = createGraph(hnsw, 64);
    const v = rows(100);
    const other = rows(1, 7);
    graph.upsert(labels(0, 100), v, 1);
    graph.upsert(Uint32Array.of(5), other, 1);
    expect(graph.count).toBe(100);
    expect(graph.search(other, 1, 64).labels[0]).toBe(5);
    const path = join(dir, `${hnsw.backend}-${hnsw.quantization}.graph`);
    graph.save(path);
    graph.free();
    const loaded = loadGraph(hnsw, path);
    expect(loaded.count).toBe(100);
    expect(loaded.search(other, 1, 64).labels[0]).toBe(5);
    loaded.upsert(Uint32Array.of(100), row(v, 3), 1);
    expect(loaded.count).toBe(101);
  });
});

describe('usearch inserts on several threads', () => {
  it('builds the same searchable graph as one thread', () => {
    const hnsw = KINDS[2] as HnswConfig;
    const graph = createGraph(hnsw, 16);
    const v = rows(2000);
    for (let from = 0; from < 2000; from += 250) graph.upsert(labels(from, from + 250), v.subarray(from * DIM, (from + 250) * DIM), 2);
    expect(graph.count).toBe(2000);
    let self = 0;
    for (let i = 0; i < 2000; i += 20) if (graph.search(row(v, i), 1, 64).labels[0] === i) self++;
    expect(self).toBeGreaterThanOrEqual(99);
  });
});

describe('SpaceIndex on usearch', () => {
  it('keeps ids, contents and the later of two vectors sent for one id in one batch', () => {
    const index = SpaceIndex.create(KINDS[2] as HnswConfig);
    const v = rows(6);
    const batch = { ids: ['a', 'b', 'a', 'c', 'b', 'd'], vectors: v, contents: ['a1', 'b1', 'a2', 'c1', 'b2', 'd1'], metadata: [null, null, null, null, null, { k: 'v' }] };
    index.upsertMany(batch, 0, 6, 2);
    expect(index.size).toBe(4);
    expect(index.get('a')?.content).toBe('a2');
    expect(index.search(row(v, 2), 1, 64)[0]?.id).toBe('a');
    expect(index.search(row(v, 4), 1, 64)[0]?.id).toBe('b');
    expect(index.get('d')?.metadata).toEqual({ k: 'v' });
    expect(index.exactSearch(row(v, 3), 1)).toEqual(['c']);
  });

  it('rebuilds from hnswlib into usearch f16 with the changes made meanwhile', () => {
    const from = KINDS[0] as HnswConfig;
    const index = SpaceIndex.create(from);
    const v = rows(200);
    for (let i = 0; i < 200; i++) index.upsert(`v${i}`, v, i * DIM, '', null);
    const copy = join(dir, 'rebuild-copy.graph');
    index.beginRebuild(copy);
    // what the rebuild thread does: every vector of the copy into a graph of the new kind
    const source = loadGraph(from, copy);
    const target = createGraph(KINDS[2] as HnswConfig, 200);
    for (let label = 0; label < 200; label++) target.upsert(Uint32Array.of(label), source.vector(label), 1);
    const rebuilt = join(dir, 'rebuilt.graph');
    target.save(rebuilt);
    const moved = rows(1, 9);
    index.upsert('v7', moved, 0, 'moved', null);
    index.upsert('new', row(v, 0).map((x) => -x), 0, '', null);
    index.finishRebuild(rebuilt, KINDS[2] as HnswConfig);
    expect(index.hnsw.backend).toBe('usearch');
    expect(index.size).toBe(201);
    expect(index.search(moved, 1, 64)[0]?.id).toBe('v7');
    expect(index.search(row(v, 150), 1, 64)[0]?.id).toBe('v150');
  });
});

describe('graphBytesPerVector', () => {
  it('halves the vector part at f16', () => {
    const f32 = graphBytesPerVector({ ...DEFAULT_HNSW, backend: 'usearch', quantization: 'f32' });
    const f16 = graphBytesPerVector({ ...DEFAULT_HNSW, backend: 'usearch', quantization: 'f16' });
    expect(f32 - f16).toBe(DEFAULT_HNSW.dimension * 2);
  });
});
