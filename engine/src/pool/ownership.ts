// Which worker owns each index (a memory space's, or one shard's: keyed as shard-key.ts says), and
// what an index is going through: being placed (moved to another worker, or restored on the
// replacement of a dead one), during which nothing is dispatched to it, and replaying (its log
// records re-indexed after a restore), during which recalls wait. Dispatch, placement, supervision
// and the owner-side requests read this state; only the transitions here change it.
import type { HashRing } from './hash-ring.js';
import { parseShardKey } from './shard-key.js';

export class Ownership {
  private readonly owner = new Map<string, number>();
  /** The same ownership indexed by worker, so dispatch never scans every index. */
  private readonly owned = new Map<number, Set<string>>();
  private readonly placing = new Map<string, Promise<void>>();
  private readonly replaying = new Map<string, Promise<void>>();
  private readonly movedAt = new Map<string, number>();
  /** Highest log sequence number each index's worker reported indexed. */
  private readonly indexed = new Map<string, number>();
  /** Vectors in each index, as its worker last reported. */
  private readonly sizes = new Map<string, number>();

  /**
   * @param onPlaced called when a key's placement ends either way (dispatch may resume).
   */
  constructor(private ring: HashRing, private readonly now: () => number, private readonly onPlaced: () => void) {}

  /** The ring new spaces are assigned by; existing spaces keep their owner until moved. */
  setRing(ring: HashRing): void {
    this.ring = ring;
  }

  get ringSize(): number {
    return this.ring.nodes.length;
  }

  /**
   * The worker the ring gives `key` (where placement moves it): the space's ring owner, and for
   * its other shards the next different workers clockwise.
   */
  ringOwner(key: string): number {
    const { space, index, count } = parseShardKey(key);
    if (count === 1) return this.ring.lookup(space);
    const nodes = this.ring.lookupDistinct(space, count);
    return nodes[index % nodes.length] as number;
  }

  /** The worker that owns `key`, assigning it by the ring on first sight. */
  ownerOf(key: string): number {
    const id = this.owner.get(key);
    if (id !== undefined) return id;
    const assigned = this.ringOwner(key);
    this.assign(key, assigned);
    return assigned;
  }

  /** The owner, without assigning one (undefined: the pool does not know the index). */
  knownOwner(key: string): number | undefined {
    return this.owner.get(key);
  }

  assign(key: string, worker: number): void {
    const previous = this.owner.get(key);
    if (previous !== undefined) this.owned.get(previous)?.delete(key);
    this.owner.set(key, worker);
    let set = this.owned.get(worker);
    if (!set) {
      set = new Set();
      this.owned.set(worker, set);
    }
    set.add(key);
  }

  keys(): string[] {
    return [...this.owner.keys()];
  }

  keysOf(worker: number): string[] {
    return [...(this.owned.get(worker) ?? [])];
  }

  /** The index is being moved to another worker until `move` settles. */
  beginMove(key: string, move: Promise<void>): void {
    this.trackPlacement(key, move, () => this.movedAt.set(key, this.now()));
  }

  /**
   * The index's worker died: it is placed once `restored` settles, and its replayed log records
   * are indexed once `replayed` does.
   */
  beginRecovery(key: string, restored: Promise<void>, replayed: Promise<void>): void {
    this.trackPlacement(key, restored, () => undefined);
    this.replaying.set(key, replayed);
    void replayed.catch(() => undefined).finally(() => {
      if (this.replaying.get(key) === replayed) this.replaying.delete(key);
    });
  }

  private trackPlacement(key: string, placed: Promise<void>, ended: () => void): void {
    this.placing.set(key, placed);
    void placed.catch(() => undefined).finally(() => {
      if (this.placing.get(key) === placed) this.placing.delete(key);
      ended();
      this.onPlaced();
    });
  }

  /** The move or restore the key is waiting for, if any. */
  placement(key: string): Promise<void> | undefined {
    return this.placing.get(key);
  }

  isPlacing(key: string): boolean {
    return this.placing.has(key);
  }

  get placementsInProgress(): number {
    return this.placing.size;
  }

  /** True while the index is not fully its owner's: being placed or replaying. */
  isUnsettled(key: string): boolean {
    return this.placing.has(key) || this.replaying.has(key);
  }

  /** Whether the key moved within the last `ms` (an index move is not free: not again so soon). */
  movedWithin(key: string, ms: number): boolean {
    return this.now() - (this.movedAt.get(key) ?? -Infinity) <= ms;
  }

  /** Resolves once the key is neither being placed nor replaying. */
  async settled(key: string): Promise<void> {
    for (;;) {
      const pending = this.placing.get(key) ?? this.replaying.get(key);
      if (!pending) return;
      await pending.catch(() => undefined);
      // A worker that died mid-way is being replaced: its recovery is tracked a turn later.
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  indexedLsn(key: string): number {
    return this.indexed.get(key) ?? 0;
  }

  noteIndexed(key: string, lsn: number): void {
    if (lsn > this.indexedLsn(key)) this.indexed.set(key, lsn);
  }

  sizeOf(key: string): number {
    return this.sizes.get(key) ?? 0;
  }

  noteSize(key: string, size: number): void {
    this.sizes.set(key, size);
  }

  /** The index left this engine (or was replaced by a new layout). */
  forget(key: string): void {
    const owner = this.owner.get(key);
    if (owner !== undefined) this.owned.get(owner)?.delete(key);
    this.owner.delete(key);
    this.indexed.delete(key);
    this.sizes.delete(key);
    this.movedAt.delete(key);
  }
}
