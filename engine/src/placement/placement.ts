// Where each memory space of a multi-pod stream lives: a consistent-hash ring over the members'
// StatefulSet ordinals, overridden by explicit assignments for spaces that are not (yet) where the
// ring puts them, versioned by a generation. The operator computes it and is its only writer; each
// engine installs it and routes by it. The same code answers on both sides, so they never disagree
// about an owner.
import { EngramError } from '../errors.js';
import { HashRing } from '../pool/hash-ring.js';

export interface PlacementMember {
  /** The StatefulSet ordinal: the member's identity on the ring (stable across restarts). */
  ordinal: number;
  /** Pod name. */
  name: string;
  /** host:port of its gRPC server. */
  address: string;
}

export interface PlacementSpec {
  generation: number;
  /** Every pod that may hold spaces (a pod being drained stays a member until it holds none). */
  members: PlacementMember[];
  /** Ordinals on the ring (where spaces belong); default: every member. */
  ring?: number[];
  /** Spaces placed away from their ring owner (being moved, or waiting to be), by owner ordinal. */
  assignments: Record<string, number>;
  /** Members running a canary rollout's new version (their metrics carry track="canary"). */
  canary?: number[];
}

export class Placement {
  private readonly ring: HashRing;
  private readonly byOrdinal: Map<number, PlacementMember>;

  constructor(readonly spec: PlacementSpec) {
    this.byOrdinal = new Map(spec.members.map((m) => [m.ordinal, m]));
    this.ring = new HashRing(spec.ring ?? spec.members.map((m) => m.ordinal));
  }

  get generation(): number {
    return this.spec.generation;
  }

  /** Pods on the ring: what a tenant's rate limit is divided by. */
  get ringSize(): number {
    return (this.spec.ring ?? this.spec.members).length;
  }

  /** The ordinal the ring alone gives a space (where it belongs once no assignment holds it). */
  ringOwner(space: string): number {
    return this.ring.lookup(`space:${space}`);
  }

  /** The member that owns a space now. */
  ownerOf(space: string): PlacementMember {
    const ordinal = this.spec.assignments[space] ?? this.ringOwner(space);
    return this.byOrdinal.get(ordinal) as PlacementMember;
  }

  member(ordinal: number): PlacementMember | undefined {
    return this.byOrdinal.get(ordinal);
  }

  memberNamed(name: string): PlacementMember | undefined {
    return this.spec.members.find((m) => m.name === name);
  }

  /** The rollout track a member runs: canary while it serves a rollout's cohort, else stable. */
  trackOf(name: string): 'stable' | 'canary' {
    const member = this.memberNamed(name);
    return member && this.spec.canary?.includes(member.ordinal) ? 'canary' : 'stable';
  }
}

/** A gRPC address as placements and hand-offs carry it: host:port. */
export function isHostPort(address: unknown): boolean {
  return typeof address === 'string' && /^[^\s:]+:\d+$/.test(address);
}

/** Parses and checks a placement sent as JSON (every problem listed at once). */
export function parsePlacement(json: string): Placement {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new EngramError('INVALID_ARGUMENT', `placement_json is not JSON (${(e as Error).message})`);
  }
  const problems: string[] = [];
  const spec = raw as Partial<PlacementSpec> | null;
  if (typeof spec !== 'object' || spec === null) throw new EngramError('INVALID_ARGUMENT', 'placement_json must be a JSON object');
  if (!Number.isSafeInteger(spec.generation) || (spec.generation as number) < 1) problems.push('generation must be an integer >= 1');
  const members = Array.isArray(spec.members) ? spec.members : [];
  if (members.length === 0) problems.push('members must list at least one member');
  const ordinals = new Set<number>();
  members.forEach((m, i) => {
    if (!Number.isSafeInteger(m?.ordinal) || m.ordinal < 0) problems.push(`members[${i}].ordinal must be an integer >= 0`);
    else if (ordinals.has(m.ordinal)) problems.push(`members[${i}].ordinal ${m.ordinal} is listed twice`);
    ordinals.add(m?.ordinal);
    if (typeof m?.name !== 'string' || m.name === '') problems.push(`members[${i}].name must be a pod name`);
    if (!isHostPort(m?.address)) problems.push(`members[${i}].address must be host:port`);
  });
  if (spec.ring !== undefined) {
    if (!Array.isArray(spec.ring) || spec.ring.length === 0) problems.push('ring must list at least one ordinal');
    else for (const o of spec.ring) if (!ordinals.has(o)) problems.push(`ring names ordinal ${String(o)}, which is not a member`);
  }
  const assignments = spec.assignments ?? {};
  if (typeof assignments !== 'object' || assignments === null || Array.isArray(assignments)) problems.push('assignments must be an object of space: ordinal');
  else {
    for (const [space, ordinal] of Object.entries(assignments)) {
      if (!ordinals.has(ordinal)) problems.push(`assignments.${space} names ordinal ${String(ordinal)}, which is not a member`);
    }
  }
  if (spec.canary !== undefined && (!Array.isArray(spec.canary) || spec.canary.some((o) => !ordinals.has(o)))) {
    problems.push('canary must list ordinals of members');
  }
  if (problems.length > 0) throw new EngramError('INVALID_ARGUMENT', `invalid placement: ${problems.join('; ')}`);
  return new Placement({
    generation: spec.generation as number, members, assignments: assignments as Record<string, number>, ...(spec.ring ? { ring: spec.ring } : {}),
    ...(spec.canary && spec.canary.length > 0 ? { canary: spec.canary } : {}),
  });
}
