// The rollout's state machine: from the stored record and what this pass observed, the next
// record and the Events to say so. Pure (no clock, no client): the driver observes, measures and
// stores; table-driven tests exercise every transition.
//
//   Healthy --spec changes--> Progressing --steps--> Promoting --cohort back on the ring--> Healthy
//                               |  ^  (Paused: a pause step without a duration, or Inconclusive with onInconclusive: Pause)
//                               v  |
//                             Paused
//   Progressing/Paused --analysis fails, canary not ready, abort--> Aborting --drained--> Aborted
//   Aborted --retry, or a new spec--> Progressing (step 0);  a spec back at the stable version --> Healthy
import type { RolloutSpec } from '../../../api/v1alpha1/types.js';
import { parseDuration, restartRun, startRun } from './analysis.js';
import { canaryPodsFor, cohortThreshold } from './cohort.js';
import type { RolloutRecord } from './rollout-record.js';
import type { Revision } from './revision.js';

export const PROMOTE_ANNOTATION = 'engram.io/promote';
export const ABORT_ANNOTATION = 'engram.io/abort';
export const RETRY_ANNOTATION = 'engram.io/retry';
export const DEFAULT_READY_DEADLINE_S = 120;

export interface RolloutObservation {
  /** The version the spec asks for now (undefined when its config is invalid: nothing moves). */
  desired: Revision | undefined;
  policy: RolloutSpec | undefined;
  now: Date;
  /** Annotation values on the stream (each acts once: the record keeps the last value acted on). */
  annotations: Record<string, string>;
  /** The ring the spec asks for, and whether a resize is under way. */
  desiredRing: number;
  resizeBusy: boolean;
  /** Every canary pod asked for is ready and routes by the placement. */
  canaryReady: boolean;
  /** Every memory space is where the cohort puts it (no cohort move pending). */
  cohortSettled: boolean;
  /** Canary pods hold no memory space. */
  canaryEmpty: boolean;
  /** A canary engine still rebuilds indexes (a rebuild-class change): analysis waits. */
  canaryRebuilding: boolean;
  /** Memory spaces the stream holds (for the cohort threshold); undefined when a pod did not report. */
  spaces: readonly string[] | undefined;
}

export interface RolloutEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface Transition {
  record: RolloutRecord;
  events: RolloutEvent[];
}

/** A stream's first record: the version it runs is stable, nothing rolls. */
export function initialRecord(desired: Revision, ring: number, now: Date): RolloutRecord {
  return { stable: desired, phase: 'Healthy', stepIndex: 0, stepStartedAt: now.toISOString(), ring, weight: 0, threshold: 0, canaryPods: 0, handled: {} };
}

/** Whether canary pods run the canary version now (else they run the stable one, or do not exist). */
export function canaryServing(record: RolloutRecord): boolean {
  return record.phase === 'Progressing' || record.phase === 'Paused';
}

export function nextRecord(current: RolloutRecord, o: RolloutObservation): Transition {
  const t = new Step(structuredClone(current), o);
  t.run();
  return { record: t.record, events: t.events };
}

class Step {
  readonly events: RolloutEvent[] = [];

  constructor(public record: RolloutRecord, private readonly o: RolloutObservation) {}

  private say(type: RolloutEvent['type'], reason: string, message: string): void {
    this.events.push({ type, reason, message });
  }

  /** An annotation set to a value not acted on yet (consumed by this call). */
  private fresh(annotation: string): string | undefined {
    const value = this.o.annotations[annotation];
    if (value === undefined || this.record.handled[annotation] === value) return undefined;
    this.record.handled[annotation] = value;
    return value;
  }

  run(): void {
    const { o, record } = this;
    const abort = this.fresh(ABORT_ANNOTATION);
    const promote = this.fresh(PROMOTE_ANNOTATION);
    const retry = this.fresh(RETRY_ANNOTATION);
    if (!o.desired) return;
    const desired = o.desired;

    // Without a policy every change goes everywhere at once; a rollout under way is promoted.
    if (!o.policy) {
      if (record.phase === 'Progressing' || record.phase === 'Paused') this.promote(desired, 'spec.rollout was removed: the change goes to every engine at once');
      else if (record.phase === 'Promoting' || record.phase === 'Aborting') this.settle();
      else Object.assign(record, { stable: desired, phase: 'Healthy' });
      if (record.phase === 'Healthy') delete record.canary;
      return;
    }
    if (record.phase === 'Promoting' || record.phase === 'Aborting') {
      // Draining the canary pods; a new spec waits for the drain to end.
      this.settle();
      return;
    }
    if (desired.hash === record.stable.hash) {
      if (record.phase === 'Aborted') {
        Object.assign(record, { phase: 'Healthy', message: `every engine runs ${record.stable.hash}` });
        delete record.canary;
      } else if (record.canary) {
        this.beginAbort(`the spec is back at the stable version ${record.stable.hash}`, 'Normal');
      }
      return;
    }
    if (!record.canary || record.canary.hash !== desired.hash) {
      this.begin(desired, record.canary ? `a new spec arrived during the rollout of ${record.canary.hash}: starting again from step 0 with ${desired.hash}` : undefined);
      return;
    }
    if (record.phase === 'Aborted') {
      if (retry) this.begin(desired, `retrying the rollout of ${desired.hash}`);
      return;
    }
    if (abort) {
      this.beginAbort('aborted by request (engram.io/abort)', 'Warning');
      return;
    }
    if (promote) {
      if (promote.startsWith('full')) {
        this.promote(desired, 'promoted in full by request (engram.io/promote=full)');
        return;
      }
      this.record.phase = 'Progressing';
      this.say('Normal', 'StepPromoted', `step ${record.stepIndex + 1} skipped by request (engram.io/promote)`);
      this.nextStep();
      return;
    }
    if (record.phase === 'Paused') return;
    this.progress();
  }

  /** Starts a rollout of `desired` from step 0 (when no resize runs). */
  private begin(desired: Revision, why?: string): void {
    const { record, o } = this;
    if (o.resizeBusy && !record.canary) {
      record.message = `waiting for the resize to finish before rolling out ${desired.hash}`;
      return;
    }
    Object.assign(record, {
      canary: desired, phase: 'Progressing', stepIndex: 0, stepStartedAt: o.now.toISOString(), weight: 0, threshold: 0,
      ring: record.canary ? record.ring : o.desiredRing,
    });
    delete record.analysis;
    delete record.lastAnalysis;
    delete record.notReadySince;
    delete record.abortReason;
    record.message = `rolling out ${desired.hash} over ${record.stable.hash}`;
    this.say('Normal', why ? 'RolloutRestarted' : 'RolloutStarted', why ?? `rolling out version ${desired.hash} (config ${desired.configHash}, image ${desired.image}) as a canary; stable ${record.stable.hash}`);
    this.progress();
  }

  private beginAbort(reason: string, type: RolloutEvent['type']): void {
    if (this.record.analysis) this.record.lastAnalysis = this.record.analysis;
    delete this.record.analysis;
    Object.assign(this.record, { phase: 'Aborting', abortReason: reason, weight: 0, threshold: 0 });
    this.record.message = `rolling back: ${reason}`;
    this.say(type, 'RolloutAborting', `rolling back ${this.record.canary?.hash ?? ''}: ${reason}; moving every memory space back to the stable pods`);
  }

  /** The canary version becomes stable on every pod; the cohort moves back onto the ring. */
  private promote(desired: Revision, why: string): void {
    Object.assign(this.record, { stable: desired, canary: desired, phase: 'Promoting', weight: 0, threshold: 0 });
    delete this.record.analysis;
    this.record.message = `promoting ${desired.hash}: every pod gets it; the cohort moves back to the ring`;
    this.say('Normal', 'RolloutPromoting', `${why}: ${desired.hash} is now the stable version`);
  }

  /** Draining phases end once the canary pods hold nothing; a stream at rest stays so. */
  private settle(): void {
    const { record, o } = this;
    if (record.phase !== 'Promoting' && record.phase !== 'Aborting') return;
    if (!o.cohortSettled || !o.canaryEmpty) {
      record.message = `${record.phase === 'Promoting' ? 'promoting' : 'rolling back'}: moving the cohort's memory spaces off the canary pods`;
      return;
    }
    const finished = record.phase === 'Promoting';
    record.canaryPods = 0;
    delete record.notReadySince;
    if (finished) {
      record.phase = 'Healthy';
      delete record.canary;
      record.message = `every engine runs ${record.stable.hash}`;
      this.say('Normal', 'RolloutCompleted', `every engine runs version ${record.stable.hash}`);
    } else {
      record.phase = 'Aborted';
      record.message = `rolled back: every engine runs the stable version ${record.stable.hash}; ${record.abortReason ?? ''}. Change the spec, or retry (kubectl engram retry)`;
      this.say('Warning', 'RolloutAborted', `every engine is back on the stable version ${record.stable.hash} (${record.abortReason ?? 'aborted'})`);
    }
  }

  private progress(): void {
    const { record, o } = this;
    const steps = o.policy!.steps;
    if (record.canaryPods > 0 && !o.canaryReady) {
      record.notReadySince ??= o.now.toISOString();
      const deadline = (o.policy!.canaryReadyDeadlineSeconds ?? DEFAULT_READY_DEADLINE_S) * 1000;
      if (o.now.getTime() - Date.parse(record.notReadySince) > deadline) {
        this.beginAbort(`canary pods not ready within ${deadline / 1000} s (crash-looping or never ready)`, 'Warning');
        return;
      }
    } else {
      delete record.notReadySince;
    }
    if (record.stepIndex >= steps.length) {
      this.promote(record.canary!, `all ${steps.length} steps passed`);
      return;
    }
    const step = steps[record.stepIndex]!;
    if (step.setWeight !== undefined) this.setWeight(step.setWeight);
    else if (step.pause) this.pause(step.pause.duration);
    else if (step.analysis) this.analyse(step.analysis.templates);
  }

  private setWeight(weight: number): void {
    const { record, o } = this;
    if (record.weight !== weight) {
      if (!o.spaces) {
        record.message = `step ${record.stepIndex + 1}: waiting for every pod to report its memory spaces before choosing the cohort`;
        return;
      }
      record.weight = weight;
      record.threshold = cohortThreshold(weight, o.spaces, record.threshold);
      record.canaryPods = Math.max(record.canaryPods, canaryPodsFor(weight, record.ring));
      this.say('Normal', 'WeightSet', `step ${record.stepIndex + 1}: canary weight ${weight}% requested (${record.canaryPods} canary pod(s))`);
      // What this pass observed predates the new weight: the next pass sees its pods and moves.
      record.message = `step ${record.stepIndex + 1}: moving the cohort's memory spaces to the canary pods`;
      return;
    }
    if (!o.canaryReady) {
      record.message = `step ${record.stepIndex + 1}: waiting for ${record.canaryPods} canary pod(s) to be ready`;
      return;
    }
    if (!o.cohortSettled) {
      record.message = `step ${record.stepIndex + 1}: moving the cohort's memory spaces to the canary pods`;
      return;
    }
    this.nextStep();
  }

  private pause(duration: string | undefined): void {
    const { record, o } = this;
    if (duration === undefined) {
      record.phase = 'Paused';
      record.message = `step ${record.stepIndex + 1}: paused until promoted (kubectl engram promote)`;
      this.say('Normal', 'RolloutPaused', record.message);
      return;
    }
    const left = Date.parse(record.stepStartedAt) + parseDuration(duration) - o.now.getTime();
    if (left > 0) record.message = `step ${record.stepIndex + 1}: pausing ${duration} (${Math.ceil(left / 1000)} s left)`;
    else this.nextStep();
  }

  private analyse(names: string[]): void {
    const { record, o } = this;
    if (o.canaryRebuilding) {
      record.message = `step ${record.stepIndex + 1}: waiting for the canary's index rebuild before analysing`;
      return;
    }
    const templates = names.map((n) => o.policy!.analysisTemplates?.find((t) => t.name === n)).filter((t) => t !== undefined);
    if (!record.analysis) {
      record.analysis = templates.map((t) => startRun(t, o.now));
      record.message = `step ${record.stepIndex + 1}: analysing (${names.join(', ')})`;
      this.say('Normal', 'AnalysisStarted', record.message);
      return;
    }
    const runs = record.analysis;
    const bad = runs.find((r) => r.phase === 'Failed' || r.phase === 'Error');
    if (bad) {
      this.say('Warning', 'AnalysisFailed', `analysis '${bad.template}' ${bad.phase.toLowerCase()}: ${bad.message ?? ''}`);
      this.beginAbort(`analysis '${bad.template}' ${bad.phase.toLowerCase()}: ${bad.message ?? ''}`, 'Warning');
      return;
    }
    const inconclusive = runs.find((r) => r.phase === 'Inconclusive');
    if (inconclusive) {
      const message = `analysis '${inconclusive.template}' inconclusive: ${inconclusive.message ?? ''}`;
      this.say('Warning', 'AnalysisInconclusive', message);
      if (o.policy!.onInconclusive === 'Pause') {
        record.phase = 'Paused';
        record.message = `step ${record.stepIndex + 1}: ${message}; paused until promoted or aborted`;
      } else {
        // Keep what was measured for status; measure again from now.
        record.analysis = runs.map((r) => (r.phase === 'Inconclusive' ? restartRun(r, templates.find((t) => t.name === r.template)!, o.now) : r));
        record.message = `step ${record.stepIndex + 1}: ${message}; neither promoted nor failed, measuring again`;
      }
      return;
    }
    if (runs.every((r) => r.phase === 'Successful')) {
      this.say('Normal', 'AnalysisSuccessful', `step ${record.stepIndex + 1}: ${runs.map((r) => `'${r.template}' ${r.message ?? ''}`).join('; ')}`);
      this.nextStep();
      return;
    }
    const counted = (r: (typeof runs)[number]) => r.measurements.filter((m) => m.at >= r.startedAt).length;
    const earlier = runs.find((r) => r.message?.includes('inconclusive'));
    record.message = `step ${record.stepIndex + 1}: analysing (${runs.map((r) => `${r.template} ${counted(r)} measured`).join(', ')})${earlier ? `; the last run of '${earlier.template}' was inconclusive: ${earlier.message}` : ''}`;
  }

  private nextStep(): void {
    const { record, o } = this;
    record.stepIndex++;
    record.stepStartedAt = o.now.toISOString();
    if (record.analysis) record.lastAnalysis = record.analysis;
    delete record.analysis;
    const steps = o.policy!.steps.length;
    this.say('Normal', 'StepCompleted', `step ${record.stepIndex} of ${steps} done`);
    if (record.stepIndex < steps) this.progress();
    else this.promote(record.canary!, `all ${steps} steps passed`);
  }
}
