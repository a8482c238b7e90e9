// Counts per key, with waits for a key's count to come back to zero: the batches of an index in
// flight on a worker (a move waits for them), the requests using an index (a reshard drops the
// old shards only when none is left).
export class KeyedCount {
  private readonly counts = new Map<string, number>();
  private readonly waiters = new Map<string, Array<() => void>>();

  of(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  add(key: string): void {
    this.counts.set(key, this.of(key) + 1);
  }

  /** One fewer for `key`; at zero, whoever waits for it is told. */
  remove(key: string): void {
    const left = this.of(key) - 1;
    if (left > 0) {
      this.counts.set(key, left);
      return;
    }
    this.counts.delete(key);
    for (const resolve of this.waiters.get(key) ?? []) resolve();
    this.waiters.delete(key);
  }

  /** Resolves once the count of `key` is zero. */
  whenZero(key: string): Promise<void> {
    if (!this.counts.has(key)) return Promise.resolve();
    return new Promise((resolve) => {
      const waiting = this.waiters.get(key);
      if (waiting) waiting.push(resolve);
      else this.waiters.set(key, [resolve]);
    });
  }

  /** Forgets every count and lets every wait go (what they waited for will not come). */
  clear(): void {
    this.counts.clear();
    for (const waiting of this.waiters.values()) for (const resolve of waiting) resolve();
    this.waiters.clear();
  }
}
