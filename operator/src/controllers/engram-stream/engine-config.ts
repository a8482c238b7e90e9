// From an EngramStream's spec to the engine config it stands for, computed with the engine's own
// config library (presets, merge, validation, hash), so the operator and the engine can never
// disagree on what a spec means or on its hash.
import { configHash, resolveStartConfig, type EngineConfig } from '@engram/engine/config';
import type { EngramStreamSpec } from '../../api/v1alpha1/types.js';

/** How a change to a spec field reaches a running engine. */
export type ChangeClass = 'live' | 'rebuild' | 'restart' | 'scale' | 'immutable' | 'policy' | 'keys' | 'object';

/**
 * Every spec field and its class (documented in operator/README.md; a test checks the table covers
 * every field of the CRD). live: pushed to every ready engine through Admin.ApplyConfig; rebuild:
 * pushed the same way, and the engine rebuilds each index in the background; restart: part of the
 * pod template, so the StatefulSet rolls its pods; scale: the StatefulSet's replicas; immutable:
 * refused by the CRD's rules once set; policy: how the other classes roll out (with spec.rollout, live,
 * rebuild and restart changes go to canary pods first; scale and storage never do); keys: the key
 * document is pushed to every engine through Admin.SetKeys at once, never through a rollout;
 * object: an object the operator owns beside the engines (the NetworkPolicy) is updated.
 */
export const FIELD_CLASSES: Readonly<Record<string, ChangeClass>> = {
  profile: 'live', workers: 'live', batch: 'live', idleSleepMs: 'live', queue: 'live', stealThreshold: 'live',
  'hnsw.efSearch': 'live', 'hnsw.autoSplit': 'live', 'hnsw.insertThreads': 'live', tenants: 'live', quality: 'live',
  'hnsw.m': 'rebuild', 'hnsw.efConstruction': 'rebuild', 'hnsw.shards': 'rebuild', 'hnsw.shardOverrides': 'rebuild',
  'hnsw.backend': 'rebuild', 'hnsw.quantization': 'rebuild',
  'hnsw.dimension': 'immutable', 'hnsw.metric': 'immutable',
  image: 'restart', imagePullPolicy: 'restart', ports: 'restart', resources: 'restart',
  'storage.size': 'immutable', 'storage.className': 'immutable', 'storage.retainOnDelete': 'live',
  replicas: 'scale', rollout: 'policy',
  'auth.mode': 'restart', 'auth.keys': 'keys', tls: 'restart', networkPolicy: 'object',
};

export interface DesiredEngineConfig {
  config: EngineConfig;
  hash: string;
}

/** The engine config patch a spec spells out: its profile and every field it sets. */
export function engineConfigPatch(spec: EngramStreamSpec): Record<string, unknown> {
  const patch: Record<string, unknown> = { profile: spec.profile ?? 'Balanced' };
  const copy = ['workers', 'batch', 'idleSleepMs', 'queue', 'stealThreshold', 'hnsw', 'tenants', 'quality'] as const;
  for (const key of copy) if (spec[key] !== undefined) patch[key] = structuredClone(spec[key]);
  return patch;
}

/** Throws the engine's INVALID_CONFIG error (naming every problem) if the engine would refuse it. */
export function calculateEngineConfig(spec: EngramStreamSpec): DesiredEngineConfig {
  const config = resolveStartConfig(engineConfigPatch(spec));
  return { config, hash: configHash(config) };
}
