import { describe, expect, it } from 'vitest';
import { DEFAULT_HNSW } from '../config/engine-config.js';
import type { SnapshotManifest } from '../index/snapshot-store.js';
import { chooseLayouts } from './layout-choice.js';

const manifest = (space: string, lsn: number): SnapshotManifest => ({ space, generation: 1, lsn, size: 10, hnsw: DEFAULT_HNSW, graph: '1.hnsw', state: '1.state.json' });

describe('chooseLayouts', () => {
  it('loads the one layout a space has', () => {
    const ms = [manifest('a.0of2', 5), manifest('a.1of2', 7), manifest('b', 3)];
    expect(chooseLayouts(ms)).toEqual({ keep: ms, stale: [] });
  });

  it('after a crash while a reshard committed, loads the new layout once all its shards have snapshots', () => {
    const old = manifest('a', 100);
    const fresh = [manifest('a.0of2', 140), manifest('a.1of2', 150)];
    expect(chooseLayouts([old, ...fresh])).toEqual({ keep: fresh, stale: ['a'] });
  });

  it('keeps the old layout while the new one lacks a shard\'s snapshot', () => {
    const old = [manifest('a.0of2', 100), manifest('a.1of2', 90)];
    const partial = manifest('a.0of4', 160);
    expect(chooseLayouts([...old, partial])).toEqual({ keep: old, stale: ['a.0of4'] });
  });

  it('keeps the new layout when only part of the old one is left (its removal had begun)', () => {
    const fresh = [manifest('a.0of2', 140), manifest('a.1of2', 150)];
    expect(chooseLayouts([manifest('a.2of4', 100), ...fresh])).toEqual({ keep: fresh, stale: ['a.2of4'] });
  });
});
