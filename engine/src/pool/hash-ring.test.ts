import { describe, expect, it } from 'vitest';
import { HashRing } from './hash-ring.js';

const spaces = Array.from({ length: 5000 }, (_, i) => `space-${i}`);

function owners(ring: HashRing): number[] {
  return spaces.map((s) => ring.lookup(s));
}

describe('HashRing', () => {
  it('moves only about 1/N of the spaces when a fifth worker joins four', () => {
    const before = owners(new HashRing([0, 1, 2, 3]));
    const after = owners(new HashRing([0, 1, 2, 3, 4]));
    const moved = before.filter((o, i) => o !== after[i]).length / spaces.length;
    expect(moved).toBeGreaterThan(0.1);
    expect(moved).toBeLessThan(0.3);
    // every space that moved, moved to the new worker
    expect(before.every((o, i) => o === after[i] || after[i] === 4)).toBe(true);
  });

  it('keeps the spaces of surviving workers in place when workers leave (4 -> 3)', () => {
    const before = owners(new HashRing([0, 1, 2, 3]));
    const after = owners(new HashRing([0, 1, 2]));
    expect(before.every((o, i) => o === 3 || o === after[i])).toBe(true);
  });

  it('spreads spaces roughly evenly over workers', () => {
    const counts = [0, 0, 0, 0];
    for (const o of owners(new HashRing([0, 1, 2, 3]))) counts[o]! += 1;
    for (const c of counts) expect(c / spaces.length).toBeGreaterThan(0.17);
    for (const c of counts) expect(c / spaces.length).toBeLessThan(0.33);
  });

  it('sends everything to the one worker of a one-node ring', () => {
    expect(new Set(owners(new HashRing([0])))).toEqual(new Set([0]));
  });

  it('gives a key as many different nodes as asked, starting with its owner, and no more than exist', () => {
    const ring = new HashRing([0, 1, 2, 3]);
    for (const key of spaces.slice(0, 200)) {
      const nodes = ring.lookupDistinct(key, 3);
      expect(nodes[0]).toBe(ring.lookup(key));
      expect(new Set(nodes).size).toBe(3);
    }
    expect(new HashRing([0, 1]).lookupDistinct('space-1', 4).sort()).toEqual([0, 1]);
  });
});
