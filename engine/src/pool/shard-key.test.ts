import { describe, expect, it } from 'vitest';
import { parseShardKey, shardKey, shardKeyOfId, shardKeys, shardOfId } from './shard-key.js';
import { ShardLayout, shardsFor } from './shard-layout.js';

describe('shard keys', () => {
  it('names an unsplit space by itself, so its snapshots and log stay what they were', () => {
    expect(shardKey('notes', 0, 1)).toBe('notes');
    expect(parseShardKey('notes')).toEqual({ space: 'notes', index: 0, count: 1 });
  });

  it('names each shard of a split space so that the name gives space, shard and count back', () => {
    expect(shardKeys('notes', 3)).toEqual(['notes.0of3', 'notes.1of3', 'notes.2of3']);
    for (const key of shardKeys('my-space_2', 4)) {
      const { space, index, count } = parseShardKey(key);
      expect(shardKey(space, index, count)).toBe(key);
    }
  });

  it('puts an id on the same shard every time, and spreads ids evenly', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 8000; i++) {
      const shard = shardOfId(`obs-${i}`, 4);
      expect(shardOfId(`obs-${i}`, 4)).toBe(shard);
      counts[shard]! += 1;
    }
    for (const c of counts) expect(c).toBeGreaterThan(1700);
    expect(shardKeyOfId('notes', 'obs-1', 1)).toBe('notes');
  });
});

describe('shard layout', () => {
  const hnsw = { shards: 1, shardOverrides: [{ spaces: 'hot-*', shards: 4 }, { spaces: 'hot-cold', shards: 2 }, { spaces: 'warm', shards: 2 }] };

  it('gives a space the first override that matches it, else hnsw.shards', () => {
    expect(shardsFor(hnsw, 'hot-cold')).toBe(4);
    expect(shardsFor(hnsw, 'warm')).toBe(2);
    expect(shardsFor(hnsw, 'warmer')).toBe(1);
  });

  it('keeps the count a space was first seen with until it is set anew', () => {
    let configured = 2;
    const layout = new ShardLayout(() => configured);
    expect(layout.keysOf('notes')).toEqual(['notes.0of2', 'notes.1of2']);
    configured = 3;
    expect(layout.countOf('notes')).toBe(2);
    layout.set('notes', 3);
    expect(layout.keyOf('notes', 'obs-1')).toBe(shardKeyOfId('notes', 'obs-1', 3));
  });
});
