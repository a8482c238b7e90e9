// Analysis, after Argo Rollouts' AnalysisRun: a template is measured every `interval` over the
// last `interval`, on both tracks at once; each measurement is judged Successful, Failed,
// Inconclusive (too few samples on a track) or Error (could not be taken), and the run ends by
// the template's limits. Pure: the driver takes the measurements (metric-source.ts).
import type { AnalysisTemplate, Measurement, MeasurementPhase } from '../../../api/v1alpha1/types.js';
import type { AnalysisRun } from './rollout-record.js';

export const ANALYSIS_DEFAULTS = { interval: '10s', count: 3, failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4, minSamples: 20 } as const;
/** Measurements kept per run in the record and status (the oldest are dropped). */
const KEPT_MEASUREMENTS = 10;

/** A track's value over a window and the events it comes from. */
export interface TrackValue {
  value: number | null;
  samples: number;
}

/** Parses 500ms, 30s, 5m, 1h30m to milliseconds. */
export function parseDuration(text: string): number {
  const parts = [...text.matchAll(/(\d+)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw new Error(`'${text}' is not a duration (e.g. 30s, 5m, 1h30m)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
  return parts.reduce((ms, p) => ms + Number(p[1]) * unit[p[2] as keyof typeof unit], 0);
}

export function intervalMs(template: AnalysisTemplate): number {
  return parseDuration(template.interval ?? ANALYSIS_DEFAULTS.interval);
}

/** A run from `now`; the first run of a step waits the template's initialDelay first. */
export function startRun(template: AnalysisTemplate, now: Date, first = true): AnalysisRun {
  const delay = first && template.initialDelay ? parseDuration(template.initialDelay) : 0;
  const startedAt = new Date(now.getTime() + delay);
  return { template: template.name, phase: 'Running', measurements: [], startedAt: startedAt.toISOString(), nextAt: new Date(startedAt.getTime() + intervalMs(template)).toISOString(), consecutiveErrors: 0 };
}

/** The same run measured again from `now` (after an Inconclusive end), its measurements kept to show. */
export function restartRun(run: AnalysisRun, template: AnalysisTemplate, now: Date): AnalysisRun {
  return { ...startRun(template, now, false), measurements: run.measurements, ...(run.message ? { message: run.message } : {}) };
}

/** Whether a comparison needs the stable track's value. */
function comparesWithStable(t: AnalysisTemplate): boolean {
  return [t.maxRatio, t.minRatio, t.maxDifference, t.minDifference].some((v) => v !== undefined);
}

/** Judges one measurement of both tracks by the template's bounds. */
export function judge(template: AnalysisTemplate, canary: TrackValue, stable: TrackValue, at: Date): Measurement {
  const minSamples = template.minSamples ?? ANALYSIS_DEFAULTS.minSamples;
  const base = {
    // Prometheus's increase() extrapolates: samples are whole events.
    at: at.toISOString(), canarySamples: Math.round(canary.samples), stableSamples: Math.round(stable.samples),
    ...(canary.value !== null ? { canary: round(canary.value) } : {}), ...(stable.value !== null ? { stable: round(stable.value) } : {}),
  };
  const needStable = comparesWithStable(template);
  const short = [canary.samples < minSamples || canary.value === null ? `canary ${canary.samples}` : null,
    needStable && (stable.samples < minSamples || stable.value === null) ? `stable ${stable.samples}` : null].filter((x) => x !== null);
  if (short.length > 0) {
    return { ...base, phase: 'Inconclusive', message: `too few samples to judge (${short.join(', ')}; at least ${minSamples} per track needed)` };
  }
  const c = canary.value!;
  const s = stable.value ?? 0;
  const failures: string[] = [];
  const check = (bound: number | undefined, ok: (b: number) => boolean, describe: (b: number) => string): void => {
    if (bound !== undefined && !ok(bound)) failures.push(describe(bound));
  };
  const ratio = s === 0 ? (c === 0 ? 1 : Infinity) : c / s;
  check(template.maxRatio, (b) => ratio <= b, (b) => `canary/stable ${fmt(ratio)} > ${b}`);
  check(template.minRatio, (b) => ratio >= b, (b) => `canary/stable ${fmt(ratio)} < ${b}`);
  check(template.maxDifference, (b) => c - s <= b, (b) => `canary-stable ${fmt(c - s)} > ${b}`);
  check(template.minDifference, (b) => c - s >= b, (b) => `canary-stable ${fmt(c - s)} < ${b}`);
  check(template.max, (b) => c <= b, (b) => `canary ${fmt(c)} > ${b}`);
  check(template.min, (b) => c >= b, (b) => `canary ${fmt(c)} < ${b}`);
  return failures.length > 0 ? { ...base, phase: 'Failed', message: `${template.metric}: ${failures.join('; ')}` } : { ...base, phase: 'Successful' };
}

/** A measurement that could not be taken. */
export function errorMeasurement(error: string, at: Date): Measurement {
  return { at: at.toISOString(), phase: 'Error', message: error };
}

/** Adds a measurement to a run and decides whether the run ended. */
export function record(run: AnalysisRun, template: AnalysisTemplate, measurement: Measurement, now: Date): AnalysisRun {
  const all = [...run.measurements, measurement].filter((m) => m.at >= run.startedAt);
  const counts = (phase: MeasurementPhase): number => all.filter((m) => m.phase === phase).length;
  const consecutiveErrors = measurement.phase === 'Error' ? run.consecutiveErrors + 1 : 0;
  const next: AnalysisRun = {
    ...run, measurements: [...run.measurements, measurement].slice(-KEPT_MEASUREMENTS), consecutiveErrors,
    nextAt: new Date(now.getTime() + intervalMs(template)).toISOString(),
  };
  const failureLimit = template.failureLimit ?? ANALYSIS_DEFAULTS.failureLimit;
  const inconclusiveLimit = template.inconclusiveLimit ?? ANALYSIS_DEFAULTS.inconclusiveLimit;
  const errorLimit = template.consecutiveErrorLimit ?? ANALYSIS_DEFAULTS.consecutiveErrorLimit;
  const count = template.count ?? ANALYSIS_DEFAULTS.count;
  if (counts('Failed') > failureLimit) return { ...next, phase: 'Failed', message: `${counts('Failed')} failed measurement(s), limit ${failureLimit}: ${measurementsSummary(all, 'Failed')}` };
  if (consecutiveErrors > errorLimit) return { ...next, phase: 'Error', message: `${consecutiveErrors} measurements in a row could not be taken: ${measurement.message}` };
  if (counts('Inconclusive') > inconclusiveLimit) return { ...next, phase: 'Inconclusive', message: `${counts('Inconclusive')} inconclusive measurement(s), limit ${inconclusiveLimit}: ${measurement.message ?? ''}` };
  if (all.filter((m) => m.phase !== 'Error').length >= count) return { ...next, phase: 'Successful', message: `${counts('Successful')} of ${count} measurements successful` };
  return next;
}

function measurementsSummary(all: Measurement[], phase: MeasurementPhase): string {
  return all.filter((m) => m.phase === phase).map((m) => m.message).slice(-2).join(' | ');
}

function round(v: number): number {
  return Number.isFinite(v) ? Math.round(v * 1e6) / 1e6 : v;
}

function fmt(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v * 1000) / 1000) : 'inf';
}
