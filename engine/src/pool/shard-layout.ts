// How many shards each memory space is split into. A space takes the configured count when the
// pool first sees it (or the count its snapshots were written with, at start) and keeps it: a
// space's layout changes only by resharding, never by a config change alone.
import type { HnswConfig } from '../config/engine-config.js';
import { parseShardKey, shardKeyOfId, shardKeys } from './shard-key.js';

export class ShardLayout {
  private readonly counts = new Map<string, number>();

  /** @param configured the shard count a new space gets. */
  constructor(private readonly configured: (space: string) => number) {}

  countOf(space: string): number {
    let count = this.counts.get(space);
    if (count === undefined) {
      count = this.configured(space);
      this.counts.set(space, count);
    }
    return count;
  }

  /** The space's count, if the layout has seen it (without giving it one). */
  knownCount(space: string): number | undefined {
    return this.counts.get(space);
  }

  /** Fixes a space's count (read from its snapshots at start). */
  set(space: string, count: number): void {
    this.counts.set(space, count);
  }

  keysOf(space: string): string[] {
    return shardKeys(space, this.countOf(space));
  }

  /** The key of the shard `id` belongs to. */
  keyOf(space: string, id: string): string {
    return shardKeyOfId(space, id, this.countOf(space));
  }

  forget(space: string): void {
    this.counts.delete(space);
  }
}

/** An index's share of its space's queue: a batch of a space is split over its shards. */
export function backlogOf(queue: { depthOf(space: string): number }, key: string): number {
  const { space, count } = parseShardKey(key);
  return Math.ceil(queue.depthOf(space) / count);
}

/** The shard count the config gives a space: the first override whose pattern matches it, else hnsw.shards. */
export function shardsFor(hnsw: Pick<HnswConfig, 'shards' | 'shardOverrides'>, space: string): number {
  for (const o of hnsw.shardOverrides) {
    if (o.spaces.endsWith('*') ? space.startsWith(o.spaces.slice(0, -1)) : space === o.spaces) return o.shards;
  }
  return hnsw.shards;
}
