import { describe, expect, it } from 'vitest';
import type { RolloutSpec } from '../../../api/v1alpha1/types.js';
import { bucketOf } from './cohort.js';
import type { RolloutRecord } from './rollout-record.js';
import { ABORT_ANNOTATION, initialRecord, nextRecord, PROMOTE_ANNOTATION, RETRY_ANNOTATION, type RolloutObservation } from './rollout-machine.js';
import type { Revision } from './revision.js';

const T0 = new Date('2026-12-02T10:00:00Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);
const revision = (hash: string): Revision => ({ hash, configHash: `c-${hash}`, image: 'engram/engine:1', spec: {} });
const STABLE = revision('v1');
const CANARY = revision('v2');
const SPACES = Array.from({ length: 20 }, (_, i) => `space-${i}`);

const policy: RolloutSpec = {
  steps: [{ setWeight: 5 }, { analysis: { templates: ['quality'] } }, { setWeight: 25 }, { pause: { duration: '30s' } }, { setWeight: 100 }],
  analysisTemplates: [{ name: 'quality', metric: 'recallAtK', minDifference: -0.02, interval: '10s', count: 2 }],
};

function observe(over: Partial<RolloutObservation> = {}): RolloutObservation {
  return {
    desired: CANARY, policy, now: T0, annotations: {}, desiredRing: 2, resizeBusy: false, canaryReady: true,
    cohortSettled: true, canaryEmpty: true, canaryRebuilding: false, spaces: SPACES, ...over,
  };
}

const healthy = (): RolloutRecord => initialRecord(STABLE, 2, T0);
const progressing = (over: Partial<RolloutRecord> = {}): RolloutRecord => ({
  ...healthy(), canary: CANARY, phase: 'Progressing', stepIndex: 0, weight: 0, canaryPods: 0, ...over,
});

describe('the rollout state machine', () => {
  it.each<[string, RolloutRecord, Partial<RolloutObservation>, Partial<RolloutRecord>, string[]]>([
    ['a new spec starts a rollout at step 0 and sets its weight', healthy(), {}, { phase: 'Progressing', stepIndex: 0, weight: 5, canaryPods: 1 }, ['RolloutStarted', 'WeightSet']],
    ['a weight step ends once its pods are ready and its cohort moved', progressing({ weight: 5, canaryPods: 1 }), {}, { stepIndex: 1, analysis: expect.any(Array) as unknown as undefined }, ['StepCompleted', 'AnalysisStarted']],
    ['a spec at the stable version leaves a healthy stream alone', healthy(), { desired: STABLE }, { phase: 'Healthy', stepIndex: 0 }, []],
    ['without a policy a change goes everywhere at once', healthy(), { policy: undefined }, { phase: 'Healthy', stable: CANARY }, []],
    ['a resize under way holds the start back', healthy(), { resizeBusy: true }, { phase: 'Healthy', message: 'waiting for the resize to finish before rolling out v2' }, []],
    ['a weight step chooses its cohort only from every pod\'s report', progressing(), { spaces: undefined }, { stepIndex: 0, weight: 0, threshold: 0, message: 'step 1: waiting for every pod to report its memory spaces before choosing the cohort' }, []],
    ['a weight step waits for its canary pods', progressing({ weight: 5, canaryPods: 1 }), { canaryReady: false }, { stepIndex: 0, weight: 5, message: 'step 1: waiting for 1 canary pod(s) to be ready' }, []],
    ['a weight step waits for its cohort to move', progressing({ weight: 5, canaryPods: 1 }), { cohortSettled: false }, { stepIndex: 0, message: "step 1: moving the cohort's memory spaces to the canary pods" }, []],
    ['canary pods not ready past the deadline abort the rollout', progressing({ canaryPods: 1, weight: 5, notReadySince: at(0).toISOString() }), { canaryReady: false, now: at(121) }, { phase: 'Aborting', weight: 0, threshold: 0 }, ['RolloutAborting']],
    ['canary pods not ready within the deadline wait', progressing({ canaryPods: 1, weight: 5, notReadySince: at(0).toISOString() }), { canaryReady: false, now: at(119) }, { phase: 'Progressing' }, []],
    ['analysis waits for the canary\'s rebuild', progressing({ stepIndex: 1, weight: 5, canaryPods: 1 }), { canaryRebuilding: true }, { stepIndex: 1, message: "step 2: waiting for the canary's index rebuild before analysing" }, []],
    ['a timed pause waits, then moves on', progressing({ stepIndex: 3, weight: 25, canaryPods: 1, stepStartedAt: at(0).toISOString() }), { now: at(10) }, { stepIndex: 3, message: 'step 4: pausing 30s (20 s left)' }, []],
    ['a timed pause ends', progressing({ stepIndex: 3, weight: 25, canaryPods: 1, stepStartedAt: at(0).toISOString() }), { now: at(31) }, { stepIndex: 4, weight: 100, canaryPods: 2 }, ['StepCompleted', 'WeightSet']],
    ['after the last step the canary is promoted', progressing({ stepIndex: 5, weight: 100, canaryPods: 2 }), {}, { phase: 'Promoting', stable: CANARY, threshold: 0 }, ['RolloutPromoting']],
    ['promoting ends once the canary pods are drained', progressing({ phase: 'Promoting', stable: CANARY, canaryPods: 2 }), {}, { phase: 'Healthy', canaryPods: 0, canary: undefined }, ['RolloutCompleted']],
    ['promoting waits for the cohort to leave the canary pods', progressing({ phase: 'Promoting', stable: CANARY, canaryPods: 2 }), { canaryEmpty: false }, { phase: 'Promoting', canaryPods: 2 }, []],
    ['abort works from any step', progressing({ stepIndex: 3, weight: 25, canaryPods: 1 }), { annotations: { [ABORT_ANNOTATION]: 'now' } }, { phase: 'Aborting', abortReason: 'aborted by request (engram.io/abort)' }, ['RolloutAborting']],
    ['abort works while paused', progressing({ phase: 'Paused', stepIndex: 3 }), { annotations: { [ABORT_ANNOTATION]: 'now' } }, { phase: 'Aborting' }, ['RolloutAborting']],
    ['aborting ends with every engine on stable', progressing({ phase: 'Aborting', canaryPods: 1, abortReason: 'x' }), {}, { phase: 'Aborted', canaryPods: 0, canary: CANARY }, ['RolloutAborted']],
    ['an aborted rollout ends when the spec is back at stable', progressing({ phase: 'Aborted' }), { desired: STABLE }, { phase: 'Healthy', canary: undefined }, []],
    ['an aborted rollout stays aborted for the same spec', progressing({ phase: 'Aborted' }), {}, { phase: 'Aborted' }, []],
    ['retry starts an aborted rollout again', progressing({ phase: 'Aborted' }), { annotations: { [RETRY_ANNOTATION]: '1' } }, { phase: 'Progressing', weight: 5 }, ['RolloutRestarted', 'WeightSet']],
    ['a retry acted on does not act again', progressing({ phase: 'Aborted', handled: { [RETRY_ANNOTATION]: '1' } }), { annotations: { [RETRY_ANNOTATION]: '1' } }, { phase: 'Aborted' }, []],
    ['a spec back at stable rolls the canary back', progressing({ stepIndex: 2, weight: 25, canaryPods: 1 }), { desired: STABLE }, { phase: 'Aborting', abortReason: 'the spec is back at the stable version v1' }, ['RolloutAborting']],
    ['a new spec mid-rollout starts again from step 0 with it', progressing({ stepIndex: 3, weight: 25, canaryPods: 1, threshold: 0.3 }), { desired: revision('v3') }, { phase: 'Progressing', stepIndex: 0, weight: 5, canary: revision('v3') }, ['RolloutRestarted', 'WeightSet']],
    ['a pause without a duration waits for promote', progressing({ stepIndex: 0, weight: 5 }), { policy: { steps: [{ pause: {} }] } }, { phase: 'Paused' }, ['RolloutPaused']],
    ['promote moves a paused rollout to its next step', progressing({ phase: 'Paused', stepIndex: 0 }), { policy: { steps: [{ pause: {} }, { setWeight: 50 }] }, annotations: { [PROMOTE_ANNOTATION]: 'step@1' } }, { phase: 'Progressing', stepIndex: 1, weight: 50 }, ['StepPromoted', 'StepCompleted', 'WeightSet']],
    ['promote --full skips every step left', progressing({ stepIndex: 1 }), { annotations: { [PROMOTE_ANNOTATION]: 'full@1' } }, { phase: 'Promoting', stable: CANARY }, ['RolloutPromoting']],
    ['removing the policy mid-rollout promotes', progressing({ stepIndex: 2 }), { policy: undefined }, { phase: 'Promoting', stable: CANARY }, ['RolloutPromoting']],
    ['an invalid spec moves nothing', progressing({ stepIndex: 2 }), { desired: undefined }, { phase: 'Progressing', stepIndex: 2 }, []],
  ])('%s', (_name, record, observation, expected, events) => {
    const next = nextRecord(record, observe(observation));
    for (const [key, value] of Object.entries(expected)) expect(next.record[key as keyof RolloutRecord], key).toEqual(value);
    expect(next.events.map((e) => e.reason)).toEqual(events);
  });

  const analysing = (runs: RolloutRecord['analysis']): RolloutRecord => progressing({ stepIndex: 1, weight: 5, canaryPods: 1, analysis: runs });
  const run = (phase: 'Running' | 'Successful' | 'Failed' | 'Inconclusive' | 'Error', message = '') =>
    [{ template: 'quality', phase, measurements: [], startedAt: T0.toISOString(), nextAt: T0.toISOString(), consecutiveErrors: 0, message }];

  it.each<[string, RolloutRecord['analysis'], Partial<RolloutSpec>, Partial<RolloutRecord>, string[]]>([
    ['a running analysis keeps the step', run('Running'), {}, { stepIndex: 1, phase: 'Progressing' }, []],
    ['a successful analysis ends the step', run('Successful', '2 of 2 measurements successful'), {}, { stepIndex: 2, weight: 25 }, ['AnalysisSuccessful', 'StepCompleted', 'WeightSet']],
    ['a failed analysis rolls back', run('Failed', 'recallAtK: canary-stable -0.09 < -0.02'), {}, { phase: 'Aborting', abortReason: "analysis 'quality' failed: recallAtK: canary-stable -0.09 < -0.02" }, ['AnalysisFailed', 'RolloutAborting']],
    ['an analysis that cannot be measured rolls back', run('Error', 'prometheus: down'), {}, { phase: 'Aborting' }, ['AnalysisFailed', 'RolloutAborting']],
    ['an inconclusive analysis neither promotes nor fails: it measures again', run('Inconclusive', 'too few samples'), {}, { phase: 'Progressing', stepIndex: 1 }, ['AnalysisInconclusive']],
    ['an inconclusive analysis pauses when the policy says so', run('Inconclusive', 'too few samples'), { onInconclusive: 'Pause' }, { phase: 'Paused', stepIndex: 1 }, ['AnalysisInconclusive']],
  ])('%s', (_name, runs, over, expected, events) => {
    const next = nextRecord(analysing(runs), observe({ policy: { ...policy, ...over } }));
    for (const [key, value] of Object.entries(expected)) expect(next.record[key as keyof RolloutRecord], key).toEqual(value);
    expect(next.events.map((e) => e.reason)).toEqual(events);
  });

  it('measures an inconclusive run again from now, keeping what it measured to show', () => {
    const inconclusive = { at: T0.toISOString(), phase: 'Inconclusive' as const, canarySamples: 0, message: 'too few samples to judge (canary 0)' };
    const runs = [{ ...run('Inconclusive', '1 inconclusive measurement(s), limit 0: too few samples')[0]!, measurements: [inconclusive] }];
    const next = nextRecord(analysing(runs), observe({ now: at(5) }));
    expect(next.record.analysis?.[0]).toMatchObject({ phase: 'Running', measurements: [inconclusive], startedAt: at(5).toISOString() });
    expect(next.record.message).toContain('neither promoted nor failed');
    const later = nextRecord(next.record, observe({ now: at(6) }));
    expect(later.record.message).toBe("step 2: analysing (quality 0 measured); the last run of 'quality' was inconclusive: 1 inconclusive measurement(s), limit 0: too few samples");
  });

  it('grows the cohort with the weight and never shrinks it within a rollout', () => {
    let record = healthy();
    const thresholds: number[] = [];
    for (const step of [0, 2]) {
      record = nextRecord({ ...record, ...(step ? { stepIndex: step, analysis: undefined } : {}) }, observe()).record;
      thresholds.push(record.threshold);
    }
    const cohort = (t: number) => SPACES.filter((s) => bucketOf(s) < t);
    expect(cohort(thresholds[0]!)).toHaveLength(1); // 5% of 20, rounded up to whole spaces
    expect(cohort(thresholds[1]!)).toHaveLength(5);
    expect(cohort(thresholds[1]!)).toEqual(expect.arrayContaining(cohort(thresholds[0]!)));
  });
});
