import { describe, expect, it } from 'vitest';
import { Membership } from './membership.js';
import { parsePlacement, Placement, type PlacementSpec } from './placement.js';

const member = (ordinal: number) => ({ ordinal, name: `s-${ordinal}`, address: `10.0.0.${ordinal + 1}:50051` });
const spec = (n: number, extra: Partial<PlacementSpec> = {}): PlacementSpec => ({ generation: 1, members: Array.from({ length: n }, (_, i) => member(i)), assignments: {}, ...extra });
const spaces = Array.from({ length: 3000 }, (_, i) => `space-${i}`);

describe('Placement', () => {
  it('spreads spaces evenly and moves about 1/N of them when a pod joins', () => {
    const three = new Placement(spec(3));
    const four = new Placement(spec(4));
    const counts = [0, 1, 2].map((o) => spaces.filter((s) => three.ownerOf(s).ordinal === o).length);
    for (const c of counts) expect(c / spaces.length).toBeGreaterThan(0.25);
    const moved = spaces.filter((s) => three.ownerOf(s).ordinal !== four.ownerOf(s).ordinal);
    expect(moved.every((s) => four.ownerOf(s).ordinal === 3)).toBe(true); // only to the new pod
    expect(moved.length / spaces.length).toBeGreaterThan(0.15);
    expect(moved.length / spaces.length).toBeLessThan(0.35);
  });

  it('lets assignments override the ring, and the ring leave members out (a pod being drained)', () => {
    const p = new Placement(spec(3, { ring: [0, 1], assignments: { 'space-1': 2 } }));
    expect(p.ownerOf('space-1').ordinal).toBe(2);
    expect(spaces.filter((s) => s !== 'space-1').every((s) => p.ownerOf(s).ordinal !== 2)).toBe(true);
  });

  it('refuses a malformed placement, naming every problem', () => {
    expect(() => parsePlacement('{')).toThrow(/placement_json is not JSON/);
    const bad = { generation: 0, members: [member(0), member(0), { ordinal: 1, name: '', address: 'nowhere' }], ring: [5], assignments: { x: 9 } };
    expect(() => parsePlacement(JSON.stringify(bad))).toThrow(
      'invalid placement: generation must be an integer >= 1; members[1].ordinal 0 is listed twice; members[2].name must be a pod name; members[2].address must be host:port; ring names ordinal 5, which is not a member; assignments.x names ordinal 9, which is not a member');
  });
});

describe('Membership', () => {
  it('owns everything stand-alone; as a member, writes wait for a placement', async () => {
    expect(new Membership(null, null).writeRefusal('a')).toBeNull();
    const m = new Membership('s-0', null);
    expect(m.writeRefusal('a')).toMatch(/waits for the operator/);
    await m.install(new Placement(spec(2)), []);
    expect(m.writeRefusal('a')).toBeNull();
  });

  it('refuses to give away a held space without a hand-off, and takes it once sealed', async () => {
    const m = new Membership('s-0', null);
    await m.install(new Placement(spec(1)), []);
    const next = new Placement({ ...spec(2), generation: 2 });
    const away = spaces.filter((s) => next.ownerOf(s).ordinal === 1).slice(0, 2);
    await expect(m.install(next, away)).rejects.toThrow(`placement generation 2 gives memory spaces this engine holds to other pods without a hand-off: ${away.join(', ')}`);
    for (const s of away) {
      m.fence(s, 'h');
      expect(m.writeRefusal(s)).toMatch(/being handed to another pod/);
      m.seal(s);
    }
    await m.install(next, away);
    expect(m.owns(away[0]!)).toBe(false);
    await expect(m.install(new Placement(spec(2)), [])).rejects.toThrow('placement generation 1 is older than the installed 2');
  });

  it('lifts a fence that was not sealed, only for its own hand-off', () => {
    const m = new Membership('s-0', null);
    m.fence('a', 'h1');
    m.unfence('a', 'h2');
    expect(m.writeRefusal('a')).toMatch(/being handed/);
    m.unfence('a', 'h1');
    expect(m.writeRefusal('a')).toMatch(/waits for the operator/);
    m.fence('b', 'h1');
    m.seal('b');
    m.unfence('b', 'h1');
    expect(m.isSealed('b')).toBe(true);
  });
});
