// An array-backed FIFO whose shift is O(1): the head moves and the array is compacted only when
// the consumed prefix is large (Array.prototype.shift is O(n) on large arrays).

const COMPACT_AT = 4096;

export class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** Puts `items` in front of everything, in their order. */
  unshift(items: readonly T[]): void {
    this.items = [...items, ...this.items.slice(this.head)];
    this.head = 0;
  }

  /** A copy of what it holds, front first. */
  toArray(): T[] {
    return this.items.slice(this.head);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  /** Removes and returns up to `n` items from the front. */
  take(n: number): T[] {
    const end = Math.min(this.items.length, this.head + n);
    const out = this.items.slice(this.head, end);
    this.head = end;
    if (this.head >= COMPACT_AT && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return out;
  }
}
