// One reconcile pass over a stream's placement (see rebalancer.ts for the resize it drives): the
// stored record, what every ready engine reported, and each step a pass can take, in order.
import { ORPHANS_HEADER, Placement, type EngramClient, type HandoffView, type PlacementMember } from '@engram/engine/client';
import type { EngramStream, PlacementStatus, PodSpaces } from '../../../api/v1alpha1/types.js';
import type { Applier } from '../../../runtime/apply.js';
import { streamNames } from '../names.js';
import { buildPlacementConfigMap, placementSpec, type MoveRecord, type PlacementRecord } from './placement-record.js';

/** Hand-offs running at once per stream (each copies a snapshot and indexes a log tail). */
const CONCURRENT_MOVES = 2;

export interface Endpoint {
  ordinal: number;
  name: string;
  address: string | null;
  ready: boolean;
}

export interface HeldSpace {
  space: string;
  tenant: string;
  vectors: number;
  owned: boolean;
}

/** What one ready engine reported in this pass. */
export interface EngineView {
  endpoint: Endpoint & { address: string };
  client: EngramClient;
  held: HeldSpace[];
  generation: number;
  confirmed: boolean;
  imports: HandoffView[];
  sealed: string[];
}

export interface RebalanceEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface RebalanceOutcome {
  /** What the StatefulSet's replicas must be now (the resize's current step). */
  statefulSetReplicas: number;
  placement: PlacementStatus;
  podSpaces: Map<string, PodSpaces>;
  events: RebalanceEvent[];
  /** Set while a resize (or a rollout's moves) is under way: look again soon. */
  busy: boolean;
  /** What a rollout needs to know of the placement. */
  view: {
    resizeBusy: boolean;
    /** Every pod of the stream reported what it holds in this pass. */
    complete: boolean;
    cohortSettled: boolean;
    canaryEmpty: boolean;
    spacesByOrdinal: Map<number, string[]>;
  };
}

/** Where a rollout puts memory spaces: canary pods and the cohort they serve (see rollout/). */
export interface CohortPlan {
  /** The ring keeps its size while a rollout runs. */
  holdRing: boolean;
  canaryOrdinals: number[];
  cohortTarget(space: string): number | undefined;
}

export const NO_COHORT: CohortPlan = { holdRing: false, canaryOrdinals: [], cohortTarget: () => undefined };

export interface RebalancerDeps {
  applier: Applier;
  client(address: string): EngramClient;
  now(): Date;
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

export function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function message(e: unknown): string {
  return (e as { details?: string }).details ?? (e instanceof Error ? e.message : String(e));
}

/** The spaces an engine refused to give away without a hand-off (PLACEMENT_ORPHANS), or null. */
function orphansOf(e: unknown): string[] | null {
  const metadata = (e as { metadata?: { get(key: string): unknown[] } }).metadata;
  if (metadata?.get('engram-error-code')[0] !== 'PLACEMENT_ORPHANS') return null;
  return String(metadata.get(ORPHANS_HEADER)[0] ?? '').split(',').filter((s) => s !== '');
}

/** One reconcile pass over a stream's placement. */
export class ResizePass {
  readonly events: RebalanceEvent[] = [];
  readonly waiting: string[] = [];
  private dirty = false;

  constructor(
    private readonly deps: RebalancerDeps,
    private readonly stream: EngramStream,
    public record: PlacementRecord,
    private readonly stored: boolean,
    private readonly endpoints: Map<number, Endpoint>,
    private readonly views: Map<number, EngineView>,
    private readonly cohort: CohortPlan = NO_COHORT,
  ) {}

  /** The pod a space is on now: its pin, or its ring owner. */
  holderOf(space: string): number {
    return this.record.assignments[space] ?? this.placement.ringOwner(space);
  }

  /** The pod a space belongs on: a canary pod for the cohort, else its ring owner. */
  targetOf(space: string): number {
    return this.cohort.cohortTarget(space) ?? this.placement.ringOwner(space);
  }

  /** Marks the canary pods in the placement (engines label their metrics by it). */
  markCanary(): void {
    // Only members: a canary pod joins the placement once it has an address.
    const members = new Set(this.record.members.map((m) => m.ordinal));
    const canary = this.cohort.canaryOrdinals.filter((o) => members.has(o));
    if (JSON.stringify(this.record.canary ?? []) === JSON.stringify(canary)) return;
    this.record.canary = canary;
    this.change();
  }

  get placement(): Placement {
    return new Placement(placementSpec(this.record));
  }

  /** Marks the record changed: the next save writes it with a new generation. */
  change(): void {
    this.dirty = true;
  }

  /** Stores a changed record (new generation) and pushes it to every ready engine. */
  async save(): Promise<void> {
    if (this.dirty || !this.stored) {
      this.record = { ...this.record, generation: this.record.generation + (this.dirty ? 1 : 0) };
      await this.deps.applier.apply(buildPlacementConfigMap(this.stream, this.record));
      this.dirty = false;
    }
    await this.push();
  }

  /**
   * Sends the placement to every ready engine that routes by an older one (or has not had it
   * confirmed since it started). An engine that holds spaces the placement would take from it
   * without a hand-off refuses it: those spaces are pinned to it and the placement is sent again.
   */
  private async push(): Promise<void> {
    const members = new Set(this.record.members.map((m) => m.ordinal));
    const unknown = this.record.ring.filter((o) => !members.has(o));
    if (unknown.length > 0) {
      this.waiting.push(`waiting for the address of pod(s) ${unknown.join(', ')} on the ring`);
      return;
    }
    for (let round = 0; round < 3; round++) {
      const orphans = new Map<string, number>();
      for (const view of this.views.values()) {
        // A drained pod left the members: it keeps its last placement until the StatefulSet removes it.
        if (!members.has(view.endpoint.ordinal) || (view.generation >= this.record.generation && view.confirmed)) continue;
        try {
          await view.client.applyPlacement(placementSpec(this.record));
          view.generation = this.record.generation;
          view.confirmed = true;
        } catch (e) {
          const listed = orphansOf(e);
          if (listed) for (const space of listed) orphans.set(space, view.endpoint.ordinal);
          else this.waiting.push(`pod ${view.endpoint.name} did not take placement generation ${this.record.generation}: ${message(e)}`);
        }
      }
      if (orphans.size === 0) return;
      for (const [space, ordinal] of orphans) this.record.assignments[space] = ordinal;
      this.record = { ...this.record, generation: this.record.generation + 1 };
      await this.deps.applier.apply(buildPlacementConfigMap(this.stream, this.record));
    }
  }

  /** Members: every pod with an address that is on the ring or may still hold spaces. */
  refreshMembers(existingPods: number): void {
    const keep = Math.max(existingPods, ...this.record.ring.map((o) => o + 1));
    const members: PlacementMember[] = [];
    for (const ordinal of range(keep)) {
      const endpoint = this.endpoints.get(ordinal);
      const previous = this.record.members.find((m) => m.ordinal === ordinal);
      const address = endpoint?.address ?? previous?.address;
      if (endpoint && address) members.push({ ordinal, name: endpoint.name, address });
      else if (previous) members.push(previous);
    }
    const before = JSON.stringify(this.record.members);
    if (JSON.stringify(members) !== before) {
      this.record.members = members;
      this.change();
    }
  }

  /**
   * Moves the ring to the desired pods once they are ready, pinning every space the new ring
   * would take from the pod holding it. Needs a report from every pod that may hold spaces.
   */
  resizeRing(desired: number, existingPods: number): void {
    const target = range(desired);
    if (desired === 0 || sameList(this.record.ring, target)) return;
    const notReady = target.filter((o) => !this.views.has(o));
    if (notReady.length > 0) {
      this.waiting.push(`waiting for engine pod(s) ${notReady.map((o) => `${streamNames(this.stream).statefulSet}-${o}`).join(', ')} to be ready before the ring takes them in`);
      return;
    }
    const silent = range(existingPods).filter((o) => !this.views.has(o));
    if (silent.length > 0) {
      this.waiting.push(`waiting for engine pod(s) ${silent.map((o) => `${streamNames(this.stream).statefulSet}-${o}`).join(', ')} to report the memory spaces they hold`);
      return;
    }
    const current = this.placement;
    this.record.ring = target;
    const next = this.placement;
    for (const view of this.views.values()) {
      for (const { space, owned } of view.held) {
        if (!owned) continue;
        const holder = current.ownerOf(space).ordinal;
        if (next.ownerOf(space).ordinal !== holder) this.record.assignments[space] = holder;
      }
    }
    this.change();
    this.events.push({ type: 'Normal', reason: 'RingResized', message: `ring now ${target.length} pod(s); ${this.toMove().length} memory space(s) to move` });
  }

  /** Spaces not on the pod they belong on (pinned away from their ring owner, or cohort spaces not on their canary pod). */
  toMove(): string[] {
    const known = new Set(Object.keys(this.record.assignments));
    for (const view of this.views.values()) for (const h of view.held) if (h.owned) known.add(h.space);
    return [...known].filter((space) => this.holderOf(space) !== this.targetOf(space)).sort();
  }

  /** Drops assignments that agree with the ring (nothing to move). */
  dropSettledPins(): void {
    const placement = this.placement;
    for (const [space, ordinal] of Object.entries(this.record.assignments)) {
      if (ordinal === placement.ringOwner(space)) {
        delete this.record.assignments[space];
        this.change();
      }
    }
  }

  /** Starts, follows and completes hand-offs, a few at a time. */
  async advanceMoves(): Promise<void> {
    const pinned = this.toMove();
    for (const space of Object.keys(this.record.moves)) {
      if (!pinned.includes(space)) delete this.record.moves[space];
    }
    const active = pinned.filter((s) => this.record.moves[s]);
    const next = pinned.filter((s) => !this.record.moves[s]).slice(0, Math.max(0, CONCURRENT_MOVES - active.length));
    for (const space of [...active, ...next]) {
      // One move's trouble (an engine refusing, or not answering) must not stop the others.
      await this.advance(space).catch((e: unknown) => this.waiting.push(`moving '${space}': ${message(e)}`));
    }
  }

  private async advance(space: string): Promise<void> {
    const from = this.holderOf(space);
    const to = this.targetOf(space);
    let move = this.record.moves[space];
    if (!move || move.to !== to || move.from !== from) {
      move = { from, to, handoffId: `${space}-g${this.record.generation}-1`, attempts: 1, startedAt: this.deps.now().toISOString() };
      this.record.moves[space] = move;
      await this.storeMoves();
    }
    const source = this.views.get(from);
    const target = this.views.get(to);
    if (!source || !target) {
      this.waiting.push(`moving '${space}' waits for pod ${!source ? from : to} to be ready`);
      return;
    }
    if (!source.held.some((h) => h.space === space)) {
      // Nothing there to copy (an empty space, or released earlier): the ring owner takes it as is.
      await this.flip(space, move, null);
      return;
    }
    const status = target.imports.find((h) => h.memorySpace === space && h.handoffId === move.handoffId);
    if (!status) {
      await target.client.startImport(space, source.endpoint.address, move.handoffId);
      return;
    }
    if (status.phase === 'failed') {
      this.events.push({ type: 'Warning', reason: 'HandoffFailed', message: `moving '${space}' from pod ${from} to pod ${to} failed (attempt ${move.attempts}): ${status.error}; starting over` });
      move.attempts++;
      move.lastError = status.error;
      move.handoffId = `${space}-g${this.record.generation}-${move.attempts}`;
      await this.storeMoves();
      return;
    }
    // Verified by the target, and the source still holds it sealed (a source that restarted since
    // lost its fence and may have taken writes: copy again).
    if (status.phase === 'verified') {
      if (source.sealed.includes(space)) await this.flip(space, move, status);
      else {
        move.attempts++;
        move.handoffId = `${space}-g${this.record.generation}-${move.attempts}`;
        await this.storeMoves();
      }
    }
  }

  /**
   * Reopens spaces left fenced by a move that was given up (a rollout aborted while its cohort
   * moved, say): the pod still owns the space and no move of it from there is under way, so
   * nothing will flip it and, without this, its writes would be refused for ever. Call after
   * advanceMoves: a flip in this pass has already given the space away, so it is not reopened.
   */
  async reopenAbandoned(): Promise<number> {
    const placement = this.placement;
    let reopened = 0;
    for (const view of this.views.values()) {
      for (const space of view.sealed) {
        const ordinal = view.endpoint.ordinal;
        if (placement.ownerOf(space).ordinal !== ordinal || this.record.moves[space]?.from === ordinal) continue;
        const lifted = await view.client.reopenSpace(space).catch((e: unknown) => {
          this.waiting.push(`reopening '${space}' on pod ${view.endpoint.name}: ${message(e)}`);
          return false;
        });
        if (!lifted) continue;
        reopened++;
        this.events.push({ type: 'Normal', reason: 'HandoffAbandoned', message: `memory space '${space}' stays on pod ${view.endpoint.name}: its move was given up, writes resume there` });
      }
    }
    return reopened;
  }

  /** Gives the space to its new owner at a new generation; the old owner drops its sealed copy. */
  private async flip(space: string, move: MoveRecord, status: HandoffView | null): Promise<void> {
    if (move.to === this.placement.ringOwner(space)) delete this.record.assignments[space];
    else this.record.assignments[space] = move.to;
    delete this.record.moves[space];
    this.change();
    await this.save();
    const detail = status
      ? `${status.count} vectors verified (checksum ${status.checksum}), copied in ${status.seconds.toFixed(2)} s, writes paused ${status.writePauseSeconds.toFixed(3)} s before the flip`
      : 'nothing to copy';
    this.events.push({ type: 'Normal', reason: 'HandoffCompleted', message: `memory space '${space}' moved from pod ${move.from} to pod ${move.to} at placement generation ${this.record.generation}: ${detail}` });
  }

  /** Moves are bookkeeping: stored without a new generation (engines do not route by them). */
  private async storeMoves(): Promise<void> {
    await this.deps.applier.apply(buildPlacementConfigMap(this.stream, this.record));
  }

  /**
   * Releases copies a pod holds but does not own (left by a hand-off whose flip it missed, or by
   * an import that was given up), once the owner reports holding the space itself.
   */
  async releaseStale(): Promise<void> {
    const placement = this.placement;
    for (const view of this.views.values()) {
      for (const { space, owned } of view.held) {
        if (owned || this.record.moves[space]?.to === view.endpoint.ordinal) continue;
        const owner = this.views.get(placement.ownerOf(space).ordinal);
        if (!owner?.held.some((h) => h.space === space && h.owned)) continue;
        const dropped = await view.client.releaseSpace(space).catch((e: unknown) => {
          this.waiting.push(`releasing the copy of '${space}' on pod ${view.endpoint.name}: ${message(e)}`);
          return null;
        });
        if (dropped === null) continue;
        this.events.push({ type: 'Normal', reason: 'StaleCopyReleased', message: `pod ${view.endpoint.name} dropped its copy of '${space}' (${dropped} vectors); pod ${owner.endpoint.name} owns it` });
      }
    }
  }

  /**
   * The StatefulSet's size for this step: grown at once for a scale-out; lowered for a scale-in
   * only when the leaving pods are off the ring, own nothing and hold nothing.
   */
  statefulSetReplicas(ringDesired: number, existingPods: number): number {
    // Canary pods come after the ring's.
    const desired = ringDesired === 0 ? 0 : ringDesired + this.cohort.canaryOrdinals.length;
    // Zero stops every engine and keeps every volume: nothing moves, the ring stays for the restart.
    if (desired === 0 || desired >= existingPods) return desired;
    const leaving = range(existingPods).filter((o) => o >= desired);
    const stillHeld = leaving.flatMap((o) => (this.views.get(o)?.held ?? []).map((h) => `${h.space} on pod ${o}`));
    const pinned = Object.entries(this.record.assignments).filter(([, o]) => o >= desired).map(([s, o]) => `${s} on pod ${o}`);
    // A silent pod must report what it holds before it goes; a canary pod that never took a space
    // (never ready: crash-looping) owns nothing by the record and may go without a word.
    const owns = (o: number) => Object.values(this.record.assignments).includes(o) || this.record.ring.includes(o);
    const silent = leaving.filter((o) => this.endpoints.get(o) && !this.views.has(o) && (o < ringDesired || owns(o)));
    if (!sameList(this.record.ring, range(ringDesired)) || pinned.length > 0 || stillHeld.length > 0 || silent.length > 0) {
      const left = [...new Set([...pinned, ...stillHeld])];
      const why = silent.length > 0 ? `pod(s) ${silent.join(', ')} not ready to be drained`
        : `${left.length} memory space(s) still to move off: ${left.slice(0, 5).join(', ')}`;
      this.waiting.push(`scale-in to ${desired} waits until the leaving pods are drained (${why})`);
      return existingPods;
    }
    const members = this.record.members.filter((m) => m.ordinal < desired);
    if (members.length !== this.record.members.length) {
      this.record.members = members;
      this.change();
    }
    return desired;
  }

  status(desired: number): PlacementStatus {
    const moves = Object.entries(this.record.moves).map(([space, m]) => {
      const target = this.views.get(m.to)?.imports.find((h) => h.handoffId === m.handoffId);
      return { space, from: m.from, to: m.to, attempts: m.attempts, phase: target?.phase ?? 'starting', startedAt: m.startedAt, ...(m.lastError ? { lastError: m.lastError } : {}) };
    });
    return {
      generation: this.record.generation,
      ring: this.record.ring.length,
      desiredRing: desired,
      movesInProgress: moves.length,
      movesPending: Math.max(0, this.toMove().length - moves.length),
      moves,
      ...(this.waiting.length > 0 ? { waiting: this.waiting.join('; ') } : {}),
    };
  }

  /**
   * Tells each engine what every tenant stores on the other pods (owned spaces only), so each
   * holds a tenant to its quota over the whole stream. Figures are as fresh as this pass.
   */
  async shareUsage(): Promise<void> {
    if (this.views.size < 2) return;
    const perPod = new Map<number, Map<string, { vectors: number; spaces: number }>>();
    const total = new Map<string, { vectors: number; spaces: number }>();
    for (const [ordinal, view] of this.views) {
      const mine = new Map<string, { vectors: number; spaces: number }>();
      for (const h of view.held.filter((x) => x.owned && x.tenant !== 'default')) {
        for (const map of [mine, total]) {
          const u = map.get(h.tenant) ?? { vectors: 0, spaces: 0 };
          map.set(h.tenant, { vectors: u.vectors + h.vectors, spaces: u.spaces + 1 });
        }
      }
      perPod.set(ordinal, mine);
    }
    await Promise.all([...this.views].map(async ([ordinal, view]) => {
      const elsewhere: Record<string, { vectors: number; spaces: number }> = {};
      for (const [tenant, t] of total) {
        const own = perPod.get(ordinal)!.get(tenant) ?? { vectors: 0, spaces: 0 };
        elsewhere[tenant] = { vectors: t.vectors - own.vectors, spaces: t.spaces - own.spaces };
      }
      await view.client.setStreamUsage(elsewhere).catch(() => undefined);
    }));
  }

  podSpaces(): Map<string, PodSpaces> {
    const out = new Map<string, PodSpaces>();
    for (const view of this.views.values()) {
      const owned = view.held.filter((h) => h.owned);
      out.set(view.endpoint.name, { spaces: owned.length, vectors: owned.reduce((n, h) => n + h.vectors, 0), copies: view.held.length - owned.length });
    }
    return out;
  }
}

