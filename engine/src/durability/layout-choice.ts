// Which of a space's shard layouts a restart loads. A space has one layout on disk, except after a
// crash in the middle of a reshard's commit: its new shards' snapshots are written before the old
// shards' are removed, and the log was kept for both. A layout is usable when every one of its
// shards has a snapshot; of two usable ones the newer wins (the higher lowest LSN), and whatever
// is left of the other is removed.
import type { SnapshotManifest } from '../index/snapshot-store.js';
import { parseShardKey } from '../pool/shard-key.js';

export interface LayoutChoice {
  /** The manifests to load. */
  keep: SnapshotManifest[];
  /** Indexes of layouts not chosen, whose snapshots go. */
  stale: string[];
}

export function chooseLayouts(manifests: SnapshotManifest[]): LayoutChoice {
  const bySpace = new Map<string, Map<number, SnapshotManifest[]>>();
  for (const m of manifests) {
    const { space, count } = parseShardKey(m.space);
    const layouts = bySpace.get(space) ?? new Map<number, SnapshotManifest[]>();
    layouts.set(count, [...(layouts.get(count) ?? []), m]);
    bySpace.set(space, layouts);
  }
  const keep: SnapshotManifest[] = [];
  const stale: string[] = [];
  for (const layouts of bySpace.values()) {
    const chosen = best([...layouts]);
    for (const [count, ms] of layouts) {
      if (count === chosen) keep.push(...ms);
      else stale.push(...ms.map((m) => m.space));
    }
  }
  return { keep, stale };
}

function best(layouts: Array<[number, SnapshotManifest[]]>): number {
  const rank = ([count, ms]: [number, SnapshotManifest[]]): [number, number] => [
    ms.length === count ? 1 : 0, // complete first
    ms.length === count ? Math.min(...ms.map((m) => m.lsn)) : ms.length,
  ];
  return layouts.reduce((a, b) => {
    const [ra, rb] = [rank(a), rank(b)];
    return rb[0] > ra[0] || (rb[0] === ra[0] && rb[1] > ra[1]) ? b : a;
  })[0];
}
