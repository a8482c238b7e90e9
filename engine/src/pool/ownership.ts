// Which worker owns each memory space's index, and what a space is going through: being placed
// (moved to another worker, or restored on the replacement of a dead one), during which nothing is
// dispatched to it, and replaying (its log records re-indexed after a restore), during which
// recalls wait. Dispatch, placement, supervision and the owner-side requests read this state;
// only the transitions here change it.
import type { HashRing } from './hash-ring.js';

export class Ownership {
  private readonly owner = new Map<string, number>();
  /** The same ownership indexed by worker, so dispatch never scans every space. */
  private readonly owned = new Map<number, Set<string>>();
  private readonly placing = new Map<string, Promise<void>>();
  private readonly replaying = new Map<string, Promise<void>>();
  private readonly movedAt = new Map<string, number>();
  /** Highest log sequence number each space's worker reported indexed. */
  private readonly indexed = new Map<string, number>();

  /**
   * @param onPlaced called when a space's placement ends either way (dispatch may resume).
   */
  constructor(private ring: HashRing, private readonly now: () => number, private readonly onPlaced: () => void) {}

  /** The ring new spaces are assigned by; existing spaces keep their owner until moved. */
  setRing(ring: HashRing): void {
    this.ring = ring;
  }

  get ringSize(): number {
    return this.ring.nodes.length;
  }

  /** The worker the ring gives `space` (where placement moves it). */
  ringOwner(space: string): number {
    return this.ring.lookup(space);
  }

  /** The worker that owns `space`, assigning it by the ring on first sight. */
  ownerOf(space: string): number {
    const id = this.owner.get(space);
    if (id !== undefined) return id;
    const assigned = this.ringOwner(space);
    this.assign(space, assigned);
    return assigned;
  }

  /** The owner, without assigning one (undefined: the pool does not know the space). */
  knownOwner(space: string): number | undefined {
    return this.owner.get(space);
  }

  assign(space: string, worker: number): void {
    const previous = this.owner.get(space);
    if (previous !== undefined) this.owned.get(previous)?.delete(space);
    this.owner.set(space, worker);
    let set = this.owned.get(worker);
    if (!set) {
      set = new Set();
      this.owned.set(worker, set);
    }
    set.add(space);
  }

  spaces(): string[] {
    return [...this.owner.keys()];
  }

  spacesOf(worker: number): string[] {
    return [...(this.owned.get(worker) ?? [])];
  }

  /** The space's index is being moved to another worker until `move` settles. */
  beginMove(space: string, move: Promise<void>): void {
    this.trackPlacement(space, move, () => this.movedAt.set(space, this.now()));
  }

  /**
   * The space's worker died: it is placed once `restored` settles, and its replayed log records
   * are indexed once `replayed` does.
   */
  beginRecovery(space: string, restored: Promise<void>, replayed: Promise<void>): void {
    this.trackPlacement(space, restored, () => undefined);
    this.replaying.set(space, replayed);
    void replayed.catch(() => undefined).finally(() => {
      if (this.replaying.get(space) === replayed) this.replaying.delete(space);
    });
  }

  private trackPlacement(space: string, placed: Promise<void>, ended: () => void): void {
    this.placing.set(space, placed);
    void placed.catch(() => undefined).finally(() => {
      if (this.placing.get(space) === placed) this.placing.delete(space);
      ended();
      this.onPlaced();
    });
  }

  /** The move or restore the space is waiting for, if any. */
  placement(space: string): Promise<void> | undefined {
    return this.placing.get(space);
  }

  isPlacing(space: string): boolean {
    return this.placing.has(space);
  }

  get placementsInProgress(): number {
    return this.placing.size;
  }

  /** True while the space's index is not fully its owner's: being placed or replaying. */
  isUnsettled(space: string): boolean {
    return this.placing.has(space) || this.replaying.has(space);
  }

  /** Whether the space moved within the last `ms` (an index move is not free: not again so soon). */
  movedWithin(space: string, ms: number): boolean {
    return this.now() - (this.movedAt.get(space) ?? -Infinity) <= ms;
  }

  /** Resolves once the space is neither being placed nor replaying. */
  async settled(space: string): Promise<void> {
    for (;;) {
      const pending = this.placing.get(space) ?? this.replaying.get(space);
      if (!pending) return;
      await pending.catch(() => undefined);
      // A worker that died mid-way is being replaced: its recovery is tracked a turn later.
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  indexedLsn(space: string): number {
    return this.indexed.get(space) ?? 0;
  }

  noteIndexed(space: string, lsn: number): void {
    if (lsn > this.indexedLsn(space)) this.indexed.set(space, lsn);
  }

  /** The space left this engine. */
  forget(space: string): void {
    const owner = this.owner.get(space);
    if (owner !== undefined) this.owned.get(owner)?.delete(space);
    this.owner.delete(space);
    this.indexed.delete(space);
    this.movedAt.delete(space);
  }
}
