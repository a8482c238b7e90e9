// The stream's rollout as the operator stores it: a ConfigMap the stream owns, written by the
// leader only. It holds the stable version (what pods outside the canary run and restart with),
// the canary version, the step, the cohort and the analysis runs, so a new leader carries on.
import type { AnalysisRunStatus, RolloutPhase } from '../../../api/v1alpha1/types.js';
import { ownedRecord } from '../owned-record.js';
import type { Revision } from './revision.js';

/** An analysis run with its schedule. */
export interface AnalysisRun extends AnalysisRunStatus {
  /** Measurements from this time on count (earlier ones are kept to show). */
  startedAt: string;
  /** When the next measurement is due. */
  nextAt: string;
  consecutiveErrors: number;
}

export interface RolloutRecord {
  stable: Revision;
  canary?: Revision;
  phase: RolloutPhase;
  stepIndex: number;
  stepStartedAt: string;
  /** Ring size the rollout started with (held until it ends). */
  ring: number;
  /** Requested weight (percent) and the cohort threshold it came to. */
  weight: number;
  threshold: number;
  canaryPods: number;
  /** Since when the canary pods have been asked for and not all ready. */
  notReadySince?: string;
  analysis?: AnalysisRun[];
  /** The runs of the last analysis step that ended (shown in status after it). */
  lastAnalysis?: AnalysisRun[];
  message?: string;
  abortReason?: string;
  /** Annotation values already acted on (promote, abort, retry), so each acts once. */
  handled: Record<string, string>;
}

const store = ownedRecord<RolloutRecord>('rollout', 'rollout.json');
export const rolloutConfigMapName = store.name;
export const buildRolloutConfigMap = store.build;
export const rolloutRecordOf = store.read;
