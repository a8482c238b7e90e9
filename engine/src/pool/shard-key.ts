// A memory space split into S shards is S HNSW indexes, each owned by a worker. Each has a key:
// the space's own name when it is not split (so an unsplit space is what it always was, on disk
// too), `<space>.<i>of<S>` when it is (a space name has no '.', so no key is another's). An
// observation belongs to the shard its id hashes to: an upsert of an id always lands on the same
// shard, and a lookup by id asks that shard only.
import { hash32 } from './hash-ring.js';

export interface ShardRef {
  space: string;
  index: number;
  count: number;
}

const SHARD_SUFFIX = /^(.+)\.(\d+)of(\d+)$/;

export function shardKey(space: string, index: number, count: number): string {
  return count === 1 ? space : `${space}.${index}of${count}`;
}

export function parseShardKey(key: string): ShardRef {
  // Most keys are unsplit spaces: no '.', no regex (dispatch parses every key of a worker).
  if (!key.includes('.')) return { space: key, index: 0, count: 1 };
  const match = SHARD_SUFFIX.exec(key);
  if (!match) return { space: key, index: 0, count: 1 };
  return { space: match[1] as string, index: Number(match[2]), count: Number(match[3]) };
}

export function shardKeys(space: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => shardKey(space, i, count));
}

/** The shard an id belongs to among `count`. */
export function shardOfId(id: string, count: number): number {
  return count === 1 ? 0 : hash32(id) % count;
}

export function shardKeyOfId(space: string, id: string, count: number): string {
  return shardKey(space, shardOfId(id, count), count);
}
