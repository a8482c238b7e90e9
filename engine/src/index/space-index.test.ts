import { describe, expect, it } from 'vitest';
import { DEFAULT_HNSW, type HnswConfig } from '../config/engine-config.js';
import { SpaceIndex } from './space-index.js';

const hnswlib: HnswConfig = { ...DEFAULT_HNSW, metric: 'l2', m: 8, efConstruction: 40, efSearch: 16 };
const usearch: HnswConfig = { ...hnswlib, backend: 'usearch', quantization: 'f32' };

function filled(count: number, hnsw: HnswConfig): SpaceIndex {
  const index = SpaceIndex.create(hnsw);
  const vectors = new Float32Array(count * hnsw.dimension);
  for (let i = 0; i < vectors.length; i++) vectors[i] = Math.sin(i * 0.37);
  for (let i = 0; i < count; i++) index.upsert(`v-${i}`, vectors, i * hnsw.dimension, '', null);
  return index;
}

describe('SpaceIndex.release', () => {
  it.each([['hnswlib', hnswlib], ['usearch', usearch]] as const)('gives %s\'s graph memory back at once, without waiting for a garbage collection', (_name, hnsw) => {
    const index = filled(12_000, hnsw); // about 37 MB of vectors
    const before = process.memoryUsage.rss();
    index.release();
    const freed = before - process.memoryUsage.rss();
    expect(freed).toBeGreaterThan(25 * 1024 * 1024);
    expect(index.size).toBe(0);
    expect(index.get('v-1')).toBeNull();
  });
});
