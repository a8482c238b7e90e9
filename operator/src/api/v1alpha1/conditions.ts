// Condition types and reasons the operator sets on an EngramStream: constants, never free text,
// so users and alerts can match on them.

export const ConditionType = {
  /** Every desired engine pod is ready and runs the desired config. */
  Ready: 'Ready',
  /** Pods are being created, rolled, or configured. */
  Progressing: 'Progressing',
  /** Something needs a human: the spec cannot be applied, or reconciling fails. */
  Degraded: 'Degraded',
  /** Every ready engine reports the hash of the desired config. */
  ConfigApplied: 'ConfigApplied',
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
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];
