import { describe, expect, it } from 'vitest';
import { DEFAULT_HNSW } from '../config/engine-config.js';
import { SpaceIndex } from './space-index.js';

const hnsw = { ...DEFAULT_HNSW, metric: 'l2' as const, m: 8, efConstruction: 40, efSearch: 16 };

function filled(count: number): SpaceIndex {
  const index = SpaceIndex.create(hnsw);
  const vectors = new Float32Array(count * hnsw.dimension);
  for (let i = 0; i < vectors.length; i++) vectors[i] = Math.sin(i * 0.37);
  for (let i = 0; i < count; i++) index.upsert(`v-${i}`, vectors, i * hnsw.dimension, '', null);
  return index;
}

describe('SpaceIndex.release', () => {
  it('gives the graph memory back at once, without waiting for a garbage collection', () => {
    const index = filled(12_000); // about 37 MB of level-0 data in one block
    const before = process.memoryUsage.rss();
    index.release();
    const freed = before - process.memoryUsage.rss();
    expect(freed).toBeGreaterThan(25 * 1024 * 1024);
    expect(index.size).toBe(0);
    expect(index.get('v-1')).toBeNull();
  });
});
