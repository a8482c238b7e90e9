// The EngramStream API, v1alpha1: what users write (spec) and what the operator reports (status).
// crd.ts builds the CRD's schema for exactly these fields; its tests keep the two in step.
import type { V1Condition, V1ObjectMeta, V1ResourceRequirements } from '@kubernetes/client-node';

export const GROUP = 'engram.io';
export const VERSION = 'v1alpha1';
export const KIND = 'EngramStream';
export const PLURAL = 'engramstreams';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const PROFILES = ['LowLatency', 'HighThroughput', 'Balanced', 'MemoryConstrained', 'MultiTenant'] as const;
export type Profile = (typeof PROFILES)[number];

export interface TenantSpec {
  name: string;
  spaces?: string[];
  rateLimit?: number;
  burst?: number;
  maxVectors?: number;
  maxSpaces?: number;
}

export interface EngramStreamSpec {
  profile?: Profile;
  replicas?: number;
  workers?: number;
  batch?: { min?: number; max?: number };
  idleSleepMs?: number;
  queue?: { capacity?: number; highPriorityRatio?: number };
  stealThreshold?: number;
  hnsw?: { dimension?: number; m?: number; efConstruction?: number; efSearch?: number; metric?: 'cosine' | 'l2' | 'ip' };
  tenants?: TenantSpec[];
  image?: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  ports?: { grpc?: number; metrics?: number };
  resources?: V1ResourceRequirements;
  storage?: { size?: string; className?: string; retainOnDelete?: boolean };
  /** Reserved for canary rollouts (a later issue): accepted, reported as not acted on (a condition and a Warning Event). */
  rollout?: Record<string, unknown>;
}

/** What one engine pod reports about itself, read from the engine (never assumed). */
export interface PodConfigStatus {
  name: string;
  uid: string;
  ready: boolean;
  /** The hash of the config the engine says it runs; empty when it could not be asked. */
  configHash: string;
  /** The engine's config generation (counts live changes since it started). */
  configGeneration: number;
  /** Present while the engine rebuilds indexes for a new hnsw.m / efConstruction in the background. */
  indexRebuild?: { spacesPending: number; spacesTotal: number; currentProgress: number };
  /** Memory spaces and vectors the engine owns (multi-pod placement). */
  owned?: PodSpaces;
}

/** The memory spaces one engine pod owns (and copies it holds for hand-offs). */
export interface PodSpaces {
  spaces: number;
  vectors: number;
  /** Copies held but not owned: hand-offs in progress, or left to be released. */
  copies: number;
}

/** One memory space being moved between pods. */
export interface SpaceMove {
  space: string;
  from: number;
  to: number;
  attempts: number;
  /** The new owner's import phase: starting, copying, catching_up, sealing, verified, failed. */
  phase: string;
  startedAt: string;
  lastError?: string;
}

/** Where the stream's memory spaces live, and the resize under way. */
export interface PlacementStatus {
  /** Generation of the placement the engines route by (stored in the <stream>-placement ConfigMap). */
  generation: number;
  /** Pods on the hash ring now, and how many spec.replicas asks for. */
  ring: number;
  desiredRing: number;
  movesInProgress: number;
  movesPending: number;
  moves: SpaceMove[];
  /** What the resize waits for, if anything. */
  waiting?: string;
}

export type Phase = 'Pending' | 'Running' | 'Updating' | 'Degraded' | 'Stopped';

export interface EngramStreamStatus {
  observedGeneration?: number;
  phase?: Phase;
  replicas?: number;
  readyReplicas?: number;
  /** "ready/desired", for the printer column. */
  ready?: string;
  /** Label selector of the engine pods (the scale subresource reads it). */
  selector?: string;
  /** Effective worker count after the profile preset and overrides (printer column). */
  workers?: number;
  /** Hash of the engine config this spec resolves to. */
  desiredConfigHash?: string;
  pods?: PodConfigStatus[];
  placement?: PlacementStatus;
  conditions?: V1Condition[];
}

export interface EngramStream {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: V1ObjectMeta;
  spec: EngramStreamSpec;
  status?: EngramStreamStatus;
}
