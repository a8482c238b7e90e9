// Condition types and reasons the operator sets on an EngramStream: constants, never free text,
// so users and alerts can match on them.

export const ConditionType = {
  /** Every desired engine pod is ready and runs the desired config. */
  Ready: 'Ready',
  /** Pods are being created, rolled, or configured. */
  Progressing: 'Progressing',
  /** Something needs a human: the spec cannot be applied, or reconciling fails. */
  Degraded: 'Degraded',
  /** Every ready engine reports the hash of the desired config and serves it (no index rebuild left). */
  ConfigApplied: 'ConfigApplied',
  /** Memory spaces are being moved between pods after a change of replicas (or wait to be). */
  Rebalancing: 'Rebalancing',
  /** Set only when spec.rollout is: True while a canary rollout runs; the reason is its phase. */
  Rollout: 'Rollout',
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

export const Reason = {
  AllPodsReady: 'AllPodsReady',
  PodsNotReady: 'PodsNotReady',
  ScaledToZero: 'ScaledToZero',
  RollingUpdate: 'RollingUpdate',
  PushingConfig: 'PushingConfig',
  Stable: 'Stable',
  AsExpected: 'AsExpected',
  /** The spec resolves to a config the engine's own validation refuses (checked before any push). */
  InvalidConfig: 'InvalidConfig',
  /** A running engine refused the config at apply time; it keeps its last good config. */
  EngineRejectedConfig: 'EngineRejectedConfig',
  /** A running engine could not be asked (unreachable, timed out). */
  EngineUnreachable: 'EngineUnreachable',
  ReconcileError: 'ReconcileError',
  ConfigInSync: 'ConfigInSync',
  ConfigOutOfSync: 'ConfigOutOfSync',
  NoEngineRunning: 'NoEngineRunning',
  /** The engines run the new config, and rebuild their indexes for its hnsw.m / efConstruction. */
  IndexRebuilding: 'IndexRebuilding',
  /** Hand-offs of memory spaces are running. */
  MovingSpaces: 'MovingSpaces',
  /** A resize waits: new pods not ready yet, or a scale-in whose pods are not drained yet (the message says which). */
  ResizePending: 'ResizePending',
  /** Every memory space is on the pod the ring gives it. */
  Balanced: 'Balanced',
  /** Every engine runs one version; nothing to roll out. */
  RolloutHealthy: 'RolloutHealthy',
  /** Canary pods serve a cohort of memory spaces; steps run. */
  RolloutProgressing: 'RolloutProgressing',
  /** Waiting for promote (a pause step, or an Inconclusive analysis with onInconclusive: Pause). */
  RolloutPaused: 'RolloutPaused',
  /** The canary version goes to every pod; the cohort moves back to the ring. */
  RolloutPromoting: 'RolloutPromoting',
  /** Rolling back: the cohort moves back to the stable pods. */
  RolloutAborting: 'RolloutAborting',
  /** Rolled back: every engine runs the stable version (the message says why). */
  RolloutAborted: 'RolloutAborted',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];
