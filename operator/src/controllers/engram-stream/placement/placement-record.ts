// The stream's placement as the operator stores it: a ConfigMap the stream owns, written only by
// the leader. It holds the placement engines route by (generation, members, ring, assignments)
// and the hand-offs in progress, so a new leader finishes a resize from here.
import type { PlacementMember, PlacementSpec } from '@engram/engine/client';
import { ownedRecord } from '../owned-record.js';

/** One space being moved from the pod that holds it to the one the ring gives it. */
export interface MoveRecord {
  from: number;
  to: number;
  handoffId: string;
  attempts: number;
  startedAt: string;
  lastError?: string;
}

export interface PlacementRecord {
  generation: number;
  members: PlacementMember[];
  ring: number[];
  assignments: Record<string, number>;
  moves: Record<string, MoveRecord>;
  /** Canary pods of a rollout (engines label their metrics track="canary" by it). */
  canary?: number[];
}

const store = ownedRecord<PlacementRecord>('placement', 'placement.json');
export const placementConfigMapName = store.name;
export const buildPlacementConfigMap = store.build;
export const recordOf = store.read;

/** What engines are sent: the record without the operator's bookkeeping of moves. */
export function placementSpec(record: PlacementRecord): PlacementSpec {
  return {
    generation: record.generation, members: record.members, ring: record.ring, assignments: record.assignments,
    ...(record.canary && record.canary.length > 0 ? { canary: record.canary } : {}),
  };
}
