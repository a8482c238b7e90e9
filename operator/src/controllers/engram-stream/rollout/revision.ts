// A version of the engines, as a rollout moves between two: what a spec says the engines run (its
// engine config and pod template fields), with a hash to tell versions apart. Replicas, storage and
// the rollout policy itself are not part of a version: they are never canaried.
import { canonicalJson, type EngineConfig } from '@engram/engine/config';
import { createHash } from 'node:crypto';
import type { EngramStream, EngramStreamSpec, RevisionStatus } from '../../../api/v1alpha1/types.js';
import { calculateEngineConfig } from '../engine-config.js';

/** Spec fields that make up a version: engine config (live and rebuild) and pod template (restart). */
export const REVISION_FIELDS = [
  'profile', 'workers', 'batch', 'idleSleepMs', 'queue', 'stealThreshold', 'hnsw', 'tenants', 'quality',
  'image', 'imagePullPolicy', 'resources', 'ports',
] as const satisfies ReadonlyArray<keyof EngramStreamSpec>;

export type RevisionSpec = Pick<EngramStreamSpec, (typeof REVISION_FIELDS)[number]>;

export interface Revision {
  hash: string;
  configHash: string;
  image: string;
  spec: RevisionSpec;
}

export interface ResolvedRevision extends Revision {
  config: EngineConfig;
}

/** The version a spec stands for; throws the engine's INVALID_CONFIG when its config is refused. */
export function revisionOf(spec: EngramStreamSpec, defaultImage: string): ResolvedRevision {
  const picked: RevisionSpec = {};
  for (const key of REVISION_FIELDS) if (spec[key] !== undefined) (picked as Record<string, unknown>)[key] = structuredClone(spec[key]);
  const { config, hash: configHash } = calculateEngineConfig(picked);
  const image = spec.image ?? defaultImage;
  const template = { image, imagePullPolicy: spec.imagePullPolicy, resources: spec.resources, ports: spec.ports };
  const hash = createHash('sha256').update(canonicalJson({ configHash, template })).digest('hex').slice(0, 10);
  return { hash, configHash, image, spec: picked, config };
}

/** Resolves a stored revision's config again (the record keeps the spec, not the config). */
export function resolve(revision: Revision, defaultImage: string): ResolvedRevision {
  return revisionOf(revision.spec, defaultImage);
}

/** The stream as if its spec named this version (for building the pod template and ConfigMap). */
export function streamAt(stream: EngramStream, revision: Revision): EngramStream {
  const spec: EngramStreamSpec = { ...stream.spec };
  for (const key of REVISION_FIELDS) delete spec[key];
  return { ...stream, spec: { ...spec, ...structuredClone(revision.spec) } };
}

export function revisionStatus(revision: Revision): RevisionStatus {
  return { hash: revision.hash, configHash: revision.configHash, image: revision.image };
}
