// A consistent-hash ring with virtual nodes: memory spaces map to workers so that adding or
// removing one of N workers moves only about 1/N of the spaces.

const VIRTUAL_NODES = 160;

/** 32-bit FNV-1a followed by murmur3's finaliser, for an even spread of short keys. */
export function hash32(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class HashRing {
  private readonly points: Uint32Array;
  private readonly owners: Int32Array;

  constructor(readonly nodes: readonly number[], virtualNodes = VIRTUAL_NODES) {
    if (nodes.length === 0) throw new Error('a hash ring needs at least one node');
    const entries: Array<[number, number]> = [];
    for (const node of nodes) {
      for (let v = 0; v < virtualNodes; v++) entries.push([hash32(`worker-${node}#${v}`), node]);
    }
    entries.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    this.points = Uint32Array.from(entries, (e) => e[0]);
    this.owners = Int32Array.from(entries, (e) => e[1]);
  }

  /** The node owning `key`: the first virtual node clockwise from the key's hash. */
  lookup(key: string): number {
    return this.owners[this.position(key)] as number;
  }

  /**
   * Up to `n` different nodes for `key`: its owner, then the next different ones clockwise (where
   * the shards of one space go, so that they land on different workers when there are enough).
   */
  lookupDistinct(key: string, n: number): number[] {
    const found: number[] = [];
    const start = this.position(key);
    for (let i = 0; i < this.owners.length && found.length < Math.min(n, this.nodes.length); i++) {
      const node = this.owners[(start + i) % this.owners.length] as number;
      if (!found.includes(node)) found.push(node);
    }
    return found;
  }

  private position(key: string): number {
    const h = hash32(key);
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.points[mid] as number) < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === this.points.length ? 0 : lo;
  }
}
