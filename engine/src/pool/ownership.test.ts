import { describe, expect, it } from 'vitest';
import { HashRing } from './hash-ring.js';
import { Ownership } from './ownership.js';

function deferred(): { promise: Promise<void>; resolve(): void; reject(e: Error): void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function ownership(clock = { now: 0 }, placed: string[] = []): Ownership {
  return new Ownership(new HashRing([0, 1, 2, 3]), () => clock.now, () => placed.push('placed'));
}

async function isSettled(o: Ownership, space: string): Promise<boolean> {
  let done = false;
  void o.settled(space).then(() => {
    done = true;
  });
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
  return done;
}

describe('Ownership', () => {
  it('gives a space its ring owner on first sight and keeps it when the ring changes', () => {
    const o = ownership();
    const first = o.ownerOf('alpha');
    expect(first).toBe(new HashRing([0, 1, 2, 3]).lookup('alpha'));
    o.setRing(new HashRing([first === 0 ? 1 : 0]));
    expect(o.ownerOf('alpha')).toBe(first);
    expect(o.ringOwner('alpha')).not.toBe(first);
  });

  it('lists a space under its new worker only after it is assigned there', () => {
    const o = ownership();
    const from = o.ownerOf('alpha');
    const to = (from + 1) % 4;
    o.assign('alpha', to);
    expect(o.keysOf(from)).not.toContain('alpha');
    expect(o.keysOf(to)).toEqual(['alpha']);
  });

  it('holds a moving space unsettled until its move ends, failed or not, and says so once', async () => {
    const placed: string[] = [];
    const o = ownership({ now: 0 }, placed);
    const move = deferred();
    o.beginMove('alpha', move.promise);
    expect(o.isPlacing('alpha')).toBe(true);
    expect(o.placementsInProgress).toBe(1);
    expect(await isSettled(o, 'alpha')).toBe(false);
    move.reject(new Error('scratch directory full'));
    expect(await isSettled(o, 'alpha')).toBe(true);
    expect(o.isPlacing('alpha')).toBe(false);
    expect(placed).toEqual(['placed']);
  });

  it('lets dispatch resume after a restore but holds recalls until the replay is indexed', async () => {
    const o = ownership();
    const restored = deferred();
    const replayed = deferred();
    o.beginRecovery('alpha', restored.promise, replayed.promise);
    restored.resolve();
    await restored.promise;
    await new Promise<void>((r) => setImmediate(r));
    expect(o.isPlacing('alpha')).toBe(false);
    expect(o.isUnsettled('alpha')).toBe(true);
    expect(await isSettled(o, 'alpha')).toBe(false);
    replayed.resolve();
    expect(await isSettled(o, 'alpha')).toBe(true);
    expect(o.isUnsettled('alpha')).toBe(false);
  });

  it('remembers when a space moved, for the steal cooldown', async () => {
    const clock = { now: 1000 };
    const o = ownership(clock);
    expect(o.movedWithin('alpha', 1000)).toBe(false);
    const move = Promise.resolve();
    o.beginMove('alpha', move);
    await new Promise<void>((r) => setImmediate(r));
    clock.now = 1500;
    expect(o.movedWithin('alpha', 1000)).toBe(true);
    clock.now = 2500;
    expect(o.movedWithin('alpha', 1000)).toBe(false);
  });

  it('keeps the highest indexed LSN and forgets everything of a released space', () => {
    const o = ownership();
    const owner = o.ownerOf('alpha');
    o.noteIndexed('alpha', 7);
    o.noteIndexed('alpha', 5);
    expect(o.indexedLsn('alpha')).toBe(7);
    o.forget('alpha');
    expect(o.indexedLsn('alpha')).toBe(0);
    expect(o.knownOwner('alpha')).toBeUndefined();
    expect(o.keysOf(owner)).toEqual([]);
    expect(o.keys()).toEqual([]);
  });
});
