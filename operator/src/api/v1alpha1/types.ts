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
  hnsw?: {
    dimension?: number; m?: number; efConstruction?: number; efSearch?: number; metric?: 'cosine' | 'l2' | 'ip';
    shards?: number; shardOverrides?: Array<{ spaces: string; shards: number }>; autoSplit?: { backlog?: number; maxShards?: number };
    backend?: 'hnswlib' | 'usearch'; quantization?: 'f32' | 'f16'; insertThreads?: number;
  };
  tenants?: TenantSpec[];
  quality?: { sampleRate?: number };
  image?: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  ports?: { grpc?: number; metrics?: number };
  resources?: V1ResourceRequirements;
  storage?: { size?: string; className?: string; retainOnDelete?: boolean };
  /** How changes reach the engines: absent, at once; set, as a canary by steps (see docs/canary.md). */
  rollout?: RolloutSpec;
  /** Who may call the engines (see docs/security.md). */
  auth?: AuthSpec;
  /** TLS for the engines' ports. */
  tls?: TlsSpec;
  /** The NetworkPolicy in front of the engines. */
  networkPolicy?: NetworkPolicySpec;
}

export const KEY_ROLES = ['Admin', 'Tenant', 'Metrics'] as const;
export type KeyRole = (typeof KEY_ROLES)[number];

export interface KeySecretRef {
  /** A Secret in the stream's namespace; every entry of its data is one client key. */
  secretName: string;
  role: KeyRole;
  /** For role Tenant: the tenant (spec.tenants[].name, or default) whose spaces the keys reach. */
  tenant?: string;
  /** After this time (RFC 3339) the keys are refused. */
  expiresAt?: string;
}

export interface AuthSpec {
  /** APIKeys (default): every call needs a key. None: anyone who reaches the pods may do anything. */
  mode?: 'APIKeys' | 'None';
  keys?: KeySecretRef[];
}

export interface TlsSpec {
  /** A Secret in cert-manager's layout (tls.crt, tls.key, ca.crt) every engine pod serves. */
  secretName: string;
  /** Refuse clients without a certificate signed by ca.crt. */
  requireClientCertificates?: boolean;
  /** Serve /metrics and the probes over HTTPS too. */
  metrics?: boolean;
}

export interface NetworkPolicySpec {
  /** Create the NetworkPolicy (default true). */
  enabled?: boolean;
  /** Namespaces (by label) whose pods may scrape metrics; default: any namespace. */
  metricsFrom?: Record<string, string>;
}

/** One step of a rollout: exactly one of its fields. */
export interface RolloutStep {
  /** Percent of memory spaces (a sticky cohort by hash of the space name) served by canary pods. */
  setWeight?: number;
  /** Wait `duration` (e.g. 30s, 5m), or without one until promoted. */
  pause?: { duration?: string };
  /** Run these analysis templates; the step ends when all succeed. */
  analysis?: { templates: string[] };
}

export const ROLLOUT_METRICS = ['observationLatencyP99', 'recallLatencyP99', 'rejectionRate', 'errorRate', 'recallAtK'] as const;
export type RolloutMetric = (typeof ROLLOUT_METRICS)[number];

export interface AnalysisTemplate {
  name: string;
  metric: RolloutMetric;
  /** Bounds of canary / stable (both tracks measured in the same window). */
  maxRatio?: number;
  minRatio?: number;
  /** Bounds of canary - stable. */
  maxDifference?: number;
  minDifference?: number;
  /** Bounds of the canary's value alone. */
  max?: number;
  min?: number;
  /** Time between measurements, and each measurement's window (default 10s). */
  interval?: string;
  /** Wait this long after the step starts before the first window (default 0). */
  initialDelay?: string;
  /** Measurements in a run (default 3). */
  count?: number;
  failureLimit?: number;
  inconclusiveLimit?: number;
  consecutiveErrorLimit?: number;
  /** Events (observations, recalls, checked neighbours) a track needs in a window, or the measurement is Inconclusive (default 20). */
  minSamples?: number;
}

export interface RolloutSpec {
  steps: RolloutStep[];
  analysisTemplates?: AnalysisTemplate[];
  /** Where analysis reads metrics; absent: the engines' own /metrics, per track. */
  prometheus?: { url: string };
  /** An Inconclusive analysis: Wait (measure again) or Pause (until promoted or aborted). */
  onInconclusive?: 'Wait' | 'Pause';
  /** Canary pods not ready this long abort the rollout (default 120). */
  canaryReadyDeadlineSeconds?: number;
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
  /** canary while the pod serves a rollout's cohort with the canary version. */
  track?: 'stable' | 'canary';
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

export type RolloutPhase = 'Healthy' | 'Progressing' | 'Paused' | 'Promoting' | 'Aborting' | 'Aborted';
export type MeasurementPhase = 'Successful' | 'Failed' | 'Inconclusive' | 'Error';

export interface Measurement {
  at: string;
  phase: MeasurementPhase;
  canary?: number;
  stable?: number;
  canarySamples?: number;
  stableSamples?: number;
  message?: string;
}

export interface AnalysisRunStatus {
  template: string;
  phase: 'Running' | 'Successful' | 'Failed' | 'Inconclusive' | 'Error';
  measurements: Measurement[];
  message?: string;
}

/** One engine version: its config hash and image. */
export interface RevisionStatus {
  hash: string;
  configHash: string;
  image: string;
}

export interface RolloutStatus {
  phase: RolloutPhase;
  /** Index of the step running now (steps.length once every step is done). */
  stepIndex: number;
  steps: number;
  stable: RevisionStatus;
  canary?: RevisionStatus;
  requestedWeight: number;
  /** Memory spaces served by canary pods, of those the stream holds. */
  actualWeight: { spaces: number; totalSpaces: number; percent: number; trafficPercent?: number };
  canaryPods: number;
  analysis?: AnalysisRunStatus[];
  message?: string;
  /** Why the last rollout was aborted. */
  abortReason?: string;
}

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
  rollout?: RolloutStatus;
  conditions?: V1Condition[];
}

export interface EngramStream {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: V1ObjectMeta;
  spec: EngramStreamSpec;
  status?: EngramStreamStatus;
}
