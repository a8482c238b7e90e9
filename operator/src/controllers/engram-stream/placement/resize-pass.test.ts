import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ORPHANS_HEADER, Placement, type EngramClient, type PlacementSpec } from '@engram/engine/client';
import type { EngramStream } from '../../../api/v1alpha1/types.js';
import type { Applier } from '../../../runtime/apply.js';
import type { PlacementRecord } from './placement-record.js';
import { ResizePass, type Endpoint, type EngineView } from './resize-pass.js';

const stream = { apiVersion: 'engram.io/v1alpha1', kind: 'EngramStream', metadata: { name: 's', namespace: 'ns', uid: 'u' }, spec: {} } as EngramStream;
const member = (ordinal: number) => ({ ordinal, name: `s-${ordinal}`, address: `10.0.0.${ordinal}:50051` });
const endpoint = (ordinal: number, ready = true): Endpoint => ({ ...member(ordinal), ready });
const view = (ordinal: number, held: string[]): EngineView => ({
  endpoint: { ...member(ordinal), ready: true }, client: {} as EngramClient, generation: 1, confirmed: true, imports: [], sealed: [],
  held: held.map((space) => ({ space, tenant: 'default', vectors: 10, owned: true })),
});
const spaces = Array.from({ length: 40 }, (_, i) => `space-${i}`);

function pass(record: PlacementRecord, views: EngineView[], endpoints: Endpoint[]): ResizePass {
  const deps = { applier: {} as Applier, client: () => ({}) as EngramClient, now: () => new Date(0) };
  return new ResizePass(deps, stream, record, true, new Map(endpoints.map((e) => [e.ordinal, e])), new Map(views.map((v) => [v.endpoint.ordinal, v])));
}

describe('ResizePass', () => {
  it('takes new pods into the ring only once they are ready, pinning every held space the new ring would move', () => {
    const record: PlacementRecord = { generation: 1, members: [member(0)], ring: [0], assignments: {}, moves: {} };
    const waiting = pass(structuredClone(record), [view(0, spaces), view(1, [])], [endpoint(0), endpoint(1), endpoint(2, false)]);
    waiting.resizeRing(3, 1);
    expect(waiting.record.ring).toEqual([0]);
    expect(waiting.waiting).toEqual(['waiting for engine pod(s) s-2 to be ready before the ring takes them in']);

    const grown = pass(structuredClone(record), [view(0, spaces), view(1, []), view(2, [])], [endpoint(0), endpoint(1), endpoint(2)]);
    grown.refreshMembers(3);
    grown.resizeRing(3, 3);
    expect(grown.record.ring).toEqual([0, 1, 2]);
    const ring = new Placement({ generation: 1, members: [0, 1, 2].map(member), assignments: {} });
    const moving = spaces.filter((s) => ring.ownerOf(s).ordinal !== 0);
    expect(Object.keys(grown.record.assignments).sort()).toEqual(moving.sort());
    expect(Object.values(grown.record.assignments).every((o) => o === 0)).toBe(true);
    expect(grown.toMove()).toEqual(moving.sort());
  });

  it('keeps leaving pods until they hold nothing, saying why, then drops them from the members', () => {
    const record: PlacementRecord = { generation: 5, members: [0, 1, 2].map(member), ring: [0, 1], assignments: { 'space-1': 2 }, moves: {} };
    const blocked = pass(structuredClone(record), [view(0, []), view(1, []), view(2, ['space-1'])], [0, 1, 2].map((o) => endpoint(o)));
    expect(blocked.statefulSetReplicas(2, 3)).toBe(3);
    expect(blocked.waiting[0]).toBe('scale-in to 2 waits until the leaving pods are drained (1 memory space(s) still to move off: space-1 on pod 2)');

    const drained = pass({ ...structuredClone(record), assignments: {} }, [view(0, ['space-1']), view(1, []), view(2, [])], [0, 1, 2].map((o) => endpoint(o)));
    expect(drained.statefulSetReplicas(2, 3)).toBe(2);
    expect(drained.record.members.map((m) => m.ordinal)).toEqual([0, 1]);
    expect(drained.statefulSetReplicas(0, 2)).toBe(0); // scaling to zero moves nothing
  });

  it('pins the spaces an engine refuses to give away without a hand-off, and pushes again at a new generation', async () => {
    const pushed: PlacementSpec[] = [];
    const client = {
      applyPlacement: async (spec: PlacementSpec) => {
        pushed.push(spec);
        if (spec.assignments['space-7'] === undefined) {
          const metadata = new Metadata();
          metadata.set('engram-error-code', 'PLACEMENT_ORPHANS');
          metadata.set(ORPHANS_HEADER, 'space-7,space-9');
          throw Object.assign(new Error('refused'), { code: 9, details: 'refused', metadata });
        }
        return { placement: spec, generation: spec.generation, self: 's-0', confirmed: true };
      },
    } as unknown as EngramClient;
    const stored: unknown[] = [];
    const deps = { applier: { apply: async (o: unknown) => stored.push(o) } as unknown as Applier, client: () => client, now: () => new Date(0) };
    const engine = { ...view(0, []), client, generation: 0, confirmed: false };
    const record: PlacementRecord = { generation: 3, members: [member(0), member(1)], ring: [0, 1], assignments: {}, moves: {} };
    const p = new ResizePass(deps, stream, record, true, new Map([[0, endpoint(0)]]), new Map([[0, engine]]));
    p.change();
    await p.save();
    expect(pushed.map((s) => s.generation)).toEqual([4, 5]);
    expect(p.record.assignments).toEqual({ 'space-7': 0, 'space-9': 0 });
    expect(p.record.generation).toBe(5);
    expect(stored).toHaveLength(2); // the new generation, then the one with the pins
    expect(p.waiting).toEqual([]);
  });

  it('reopens a space left sealed by a move that was given up, and no other', async () => {
    const ring = new Placement({ generation: 1, members: [0, 1].map(member), assignments: {} });
    const on = (ordinal: number) => spaces.filter((s) => ring.ownerOf(s).ordinal === ordinal);
    const [abandoned, moving, flippedAway] = on(0);
    const [abandonedOn1] = on(1);
    const reopened: string[] = [];
    const engineAt = (ordinal: number, sealed: string[]): EngineView => ({
      ...view(ordinal, []), sealed,
      client: { reopenSpace: async (space: string) => reopened.push(space) > 0 } as unknown as EngramClient,
    });
    const record: PlacementRecord = {
      generation: 1, members: [0, 1].map(member), ring: [0, 1], assignments: {},
      moves: { [moving!]: { from: 0, to: 1, handoffId: 'h-1', attempts: 1, startedAt: '' } },
    };
    // Pod 0 owns both spaces it holds sealed, but one of them is still moving; pod 1 holds one it
    // owns and one that flipped to pod 0 (a stale copy: released later, never reopened).
    const p = pass(record, [engineAt(0, [abandoned!, moving!]), engineAt(1, [flippedAway!, abandonedOn1!])], [endpoint(0), endpoint(1)]);
    expect(await p.reopenAbandoned()).toBe(2);
    expect(reopened.sort()).toEqual([abandoned!, abandonedOn1!].sort());
    expect(p.events.map((e) => e.reason)).toEqual(['HandoffAbandoned', 'HandoffAbandoned']);
  });
});
