// The operator's side of canary rollouts, one pass at a time: it reads the stored rollout, says
// what each part of the stream runs during it (the plan), and after the placement pass measures
// any analysis that is due, takes the state machine one step, stores the result and reports it.
import type { V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import { canonicalJson, type EngineConfig } from '@engram/engine/config';
import type { EngramStream, RolloutStatus } from '../../../api/v1alpha1/types.js';
import type { Applier } from '../../../runtime/apply.js';
import { isPodReady, type EngineReport } from '../engine-fleet.js';
import { ordinalOf } from '../names.js';
import { errorMeasurement, intervalMs, judge, record as recordMeasurement } from './analysis.js';
import { canaryOwner, inCohort } from './cohort.js';
import { PrometheusSource, parsePodTotals, ScrapeHistory, type MetricSource, type Scrape } from './metric-source.js';
import { buildRolloutConfigMap, rolloutConfigMapName, rolloutRecordOf, type RolloutRecord } from './rollout-record.js';
import { canaryServing, initialRecord, nextRecord, type RolloutEvent } from './rollout-machine.js';
import { resolve, revisionStatus, type ResolvedRevision } from './revision.js';

/** Where and how the engines' /metrics are read: the port, the key (keys on), TLS trust (spec.tls.metrics). */
export interface MetricsEndpoint {
  port: number;
  apiKey?: string;
  tls?: { ca?: Buffer; serverName?: string };
}

export interface RolloutDeps {
  applier: Pick<Applier, 'apply' | 'read'>;
  defaultImage: string;
  /** GETs a URL's body (the engines' /metrics). */
  /** GETs an engine's /metrics (with the stream's key and TLS trust when it has them). */
  httpGet(url: string, signal: AbortSignal, endpoint?: MetricsEndpoint): Promise<string>;
}

/** What the stream runs during this pass, from the stored rollout. */
export interface RolloutPlan {
  record: RolloutRecord;
  stored: boolean;
  stable: ResolvedRevision;
  /** The canary version while canary pods serve it. */
  canary: ResolvedRevision | undefined;
  /** StatefulSet ordinals of the canary pods (after the ring). */
  canaryOrdinals: number[];
  /** Whether the ring keeps its size (a resize waits for the rollout). */
  holdRing: boolean;
  /** The canary pod a memory space goes to, if it is in the cohort. */
  cohortTarget(space: string): number | undefined;
  /** The version of the pod template, and the StatefulSet partition (pods below it keep the stable template). */
  template: ResolvedRevision;
  partition: number;
  /** The engine config a pod should run, by StatefulSet ordinal. */
  configFor(ordinal: number): { config: EngineConfig; hash: string };
}

/** What the placement pass saw, for the state machine. */
export interface PlacementView {
  resizeBusy: boolean;
  /** Every pod reported what it holds (else the spaces below are partial). */
  complete: boolean;
  cohortSettled: boolean;
  canaryEmpty: boolean;
  /** Owned memory spaces by the ordinal that owns them. */
  spacesByOrdinal: Map<number, string[]>;
}

export interface RolloutOutcome {
  status: RolloutStatus | undefined;
  events: RolloutEvent[];
  /** A rollout is under way, or this pass changed what the next one does: look again soon. */
  active: boolean;
}

const SCRAPE_EVERY_MS = 1000;
const TRAFFIC_WINDOW_MS = 60_000;

export class RolloutDriver {
  private readonly histories = new Map<string, ScrapeHistory>();

  constructor(private readonly deps: RolloutDeps) {}

  /** Reads the stored rollout (or starts one at the spec's version) and plans this pass. */
  async plan(stream: EngramStream, desired: ResolvedRevision, now: Date): Promise<RolloutPlan> {
    const stored = rolloutRecordOf(await this.deps.applier.read<V1ConfigMap>({
      apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: rolloutConfigMapName(stream), namespace: stream.metadata.namespace! },
    }));
    const record = stored ?? initialRecord(desired, stream.spec.replicas ?? 1, now);
    // Without a policy (and nothing to drain) a change goes everywhere in this very pass.
    const atOnce = !stream.spec.rollout && (record.phase === 'Healthy' || record.phase === 'Aborted');
    const stable = atOnce || record.stable.hash === desired.hash ? desired : resolve(record.stable, this.deps.defaultImage);
    const serving = canaryServing(record) && record.canary !== undefined;
    const canary = serving ? (record.canary!.hash === desired.hash ? desired : resolve(record.canary!, this.deps.defaultImage)) : undefined;
    const canaryOrdinals = Array.from({ length: record.canaryPods }, (_, i) => record.ring + i);
    const isCanary = (ordinal: number) => canaryOrdinals.includes(ordinal);
    return {
      record, stored: stored !== undefined, stable, canary, canaryOrdinals,
      holdRing: record.phase !== 'Healthy' && record.phase !== 'Aborted',
      cohortTarget: (space) => (serving && canaryOrdinals.length > 0 && inCohort(space, record.threshold) ? canaryOwner(space, canaryOrdinals) : undefined),
      template: canary ?? stable,
      partition: serving ? record.ring : 0,
      configFor: (ordinal) => {
        const version = canary && isCanary(ordinal) ? canary : stable;
        return { config: version.config, hash: version.configHash };
      },
    };
  }

  /** After the placement pass: measure, step, store, report. */
  async advance(stream: EngramStream, plan: RolloutPlan, desired: ResolvedRevision | undefined, pods: V1Pod[], engines: EngineReport[],
    placement: PlacementView, metrics: MetricsEndpoint, now: Date, signal: AbortSignal): Promise<RolloutOutcome> {
    const key = `${stream.metadata.namespace}/${stream.metadata.name}`;
    const policy = stream.spec.rollout;
    let record = plan.record;
    // Scrapes are kept only while canary pods exist (they are what analysis and traffic share read).
    if (plan.canaryOrdinals.length === 0) this.histories.delete(key);
    const history = this.history(key);
    if (plan.canaryOrdinals.length > 0) await this.scrape(history, stream, pods, plan, metrics, now, signal);
    if (record.analysis && policy) record = await this.measure(record, policy, this.sourceFor(stream, history), now);

    const canaryPods = pods.filter((p) => plan.canaryOrdinals.includes(ordinalOf(p, stream) ?? -1));
    const transition = nextRecord(record, {
      desired, policy, now, annotations: stream.metadata.annotations ?? {},
      desiredRing: stream.spec.replicas ?? 1,
      resizeBusy: placement.resizeBusy,
      canaryReady: canaryPods.length === plan.canaryOrdinals.length && canaryPods.every(isPodReady),
      cohortSettled: placement.cohortSettled,
      canaryEmpty: placement.canaryEmpty,
      canaryRebuilding: engines.some((e) => canaryPods.some((p) => p.metadata?.name === e.name) && e.indexRebuild !== undefined),
      spaces: placement.complete ? [...placement.spacesByOrdinal.values()].flat() : undefined,
    });
    const changed = canonicalJson(transition.record) !== canonicalJson(plan.record);
    if (!plan.stored || changed) await this.deps.applier.apply(buildRolloutConfigMap(stream, transition.record));
    const running = transition.record.phase !== 'Healthy' && transition.record.phase !== 'Aborted';
    const status = policy !== undefined || running ? this.status(transition.record, plan, placement, history, policy?.steps.length ?? 0, now) : undefined;
    return { status, events: transition.events, active: running || changed };
  }

  /** The stream is gone: its scrapes go too. */
  forget(key: string): void {
    this.histories.delete(key);
  }

  private history(key: string): ScrapeHistory {
    let h = this.histories.get(key);
    if (!h) this.histories.set(key, (h = new ScrapeHistory()));
    return h;
  }

  private sourceFor(stream: EngramStream, history: ScrapeHistory): MetricSource {
    const url = stream.spec.rollout?.prometheus?.url;
    return url ? new PrometheusSource(url, { namespace: stream.metadata.namespace!, name: stream.metadata.name! }) : history;
  }

  /** Scrapes every ready pod's /metrics (once a second at most), labelled with its track. */
  private async scrape(history: ScrapeHistory, stream: EngramStream, pods: V1Pod[], plan: RolloutPlan, metrics: MetricsEndpoint, now: Date, signal: AbortSignal): Promise<void> {
    if ((history.latest?.at ?? 0) > now.getTime() - SCRAPE_EVERY_MS) return;
    const scrape: Scrape = { at: now.getTime(), pods: [] };
    await Promise.all(pods.filter((p) => isPodReady(p) && p.status?.podIP).map(async (pod) => {
      const ordinal = ordinalOf(pod, stream);
      if (ordinal === undefined) return;
      try {
        const url = `${metrics.tls ? 'https' : 'http'}://${pod.status!.podIP}:${metrics.port}/metrics`;
        const text = await this.deps.httpGet(url, AbortSignal.any([signal, AbortSignal.timeout(3000)]), metrics);
        const track = plan.canary && plan.canaryOrdinals.includes(ordinal) ? 'canary' : 'stable';
        scrape.pods.push({ pod: pod.metadata!.name!, uid: pod.metadata!.uid!, track, totals: parsePodTotals(text) });
      } catch {
        // not scraped this time: its window starts at its next scrape
      }
    }));
    history.add(scrape);
  }

  /** Takes every measurement that is due. */
  private async measure(record: RolloutRecord, policy: NonNullable<EngramStream['spec']['rollout']>, source: MetricSource, now: Date): Promise<RolloutRecord> {
    const runs = await Promise.all(record.analysis!.map(async (run) => {
      const template = policy.analysisTemplates?.find((t) => t.name === run.template);
      if (!template || run.phase !== 'Running' || Date.parse(run.nextAt) > now.getTime()) return run;
      const measurement = await source.measure(template.metric, intervalMs(template), now)
        .then((v) => judge(template, v.canary, v.stable, now))
        .catch((e: unknown) => errorMeasurement(e instanceof Error ? e.message : String(e), now));
      return recordMeasurement(run, template, measurement, now);
    }));
    return { ...record, analysis: runs };
  }

  private status(record: RolloutRecord, plan: RolloutPlan, placement: PlacementView, history: ScrapeHistory, steps: number, now: Date): RolloutStatus {
    const total = [...placement.spacesByOrdinal.values()].reduce((n, s) => n + s.length, 0);
    const onCanary = plan.canaryOrdinals.reduce((n, o) => n + (placement.spacesByOrdinal.get(o)?.length ?? 0), 0);
    const traffic = history.window(TRAFFIC_WINDOW_MS * 0.9, now.getTime());
    const trafficTotal = traffic ? traffic.canary.observations + traffic.stable.observations : 0;
    const runs = record.analysis ?? record.lastAnalysis;
    return {
      phase: record.phase,
      stepIndex: record.stepIndex,
      steps,
      stable: revisionStatus(record.stable),
      ...(record.canary ? { canary: revisionStatus(record.canary) } : {}),
      requestedWeight: record.weight,
      actualWeight: {
        spaces: onCanary, totalSpaces: total, percent: total > 0 ? Math.round((onCanary / total) * 1000) / 10 : 0,
        ...(traffic && trafficTotal > 0 ? { trafficPercent: Math.round((traffic.canary.observations / trafficTotal) * 1000) / 10 } : {}),
      },
      canaryPods: record.canaryPods,
      ...(runs ? { analysis: runs.map(({ template, phase, measurements, message }) => ({ template, phase, measurements, ...(message ? { message } : {}) })) } : {}),
      ...(record.message ? { message: record.message } : {}),
      ...(record.abortReason ? { abortReason: record.abortReason } : {}),
    };
  }
}

