// The stream's placement as the operator stores it: a ConfigMap the stream owns, written only by
// the leader. It holds the placement engines route by (generation, members, ring, assignments)
// and the hand-offs in progress, so a new leader finishes a resize from here.
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { PlacementMember, PlacementSpec } from '@engram/engine/client';
import type { EngramStream } from '../../../api/v1alpha1/types.js';
import { commonLabels, ownerReference, streamNames } from '../names.js';

const KEY = 'placement.json';

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

export function placementConfigMapName(stream: EngramStream): string {
  return `${streamNames(stream).statefulSet}-placement`;
}

export function buildPlacementConfigMap(stream: EngramStream, record: PlacementRecord): V1ConfigMap {
  return {
    apiVersion: 'v1', kind: 'ConfigMap',
    metadata: { name: placementConfigMapName(stream), namespace: stream.metadata.namespace!, labels: commonLabels(stream), ownerReferences: [ownerReference(stream)] },
    data: { [KEY]: JSON.stringify(record, null, 1) },
  };
}

export function recordOf(configMap: V1ConfigMap | undefined): PlacementRecord | undefined {
  const text = configMap?.data?.[KEY];
  return text ? (JSON.parse(text) as PlacementRecord) : undefined;
}

/** What engines are sent: the record without the operator's bookkeeping of moves. */
export function placementSpec(record: PlacementRecord): PlacementSpec {
  return {
    generation: record.generation, members: record.members, ring: record.ring, assignments: record.assignments,
    ...(record.canary && record.canary.length > 0 ? { canary: record.canary } : {}),
  };
}
