// One reconcile pass of an EngramStream, top to bottom: read it from the cache (stop if gone),
// resolve the engine config its spec stands for, converge the running engines on it, apply every
// owned object, then compute the status from what was observed and write it if it changed.
import type { V1ConfigMap, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { canonicalJson } from '@engram/engine/config';
import { ConditionType } from '../../api/v1alpha1/conditions.js';
import { GROUP, PLURAL, VERSION, type EngramStream, type EngramStreamStatus } from '../../api/v1alpha1/types.js';
import type { Applier } from '../../runtime/apply.js';
import type { ReconcileResult } from '../../runtime/controller.js';
import type { EventRecorder } from '../../runtime/event-recorder.js';
import type { Informer } from '../../runtime/informer.js';
import { buildConfigMap, configOf } from './desired/config-map.js';
import { buildPodDisruptionBudget } from './desired/pod-disruption-budget.js';
import { buildServiceMonitor, SERVICE_MONITOR_CRD } from './desired/service-monitor.js';
import { buildClientService, buildHeadlessService } from './desired/services.js';
import { buildStatefulSet, enginePorts } from './desired/stateful-set.js';
import { buildNetworkPolicy } from './desired/network-policy.js';
import type { EngineFleet, EngineReport } from './engine-fleet.js';
import { ordinalOf, selectorString, STREAM_LABEL, streamNames } from './names.js';
import { calculateStatus, isWarning } from './status.js';
import type { StreamMetrics } from './stream-metrics.js';
import { NO_COHORT } from './placement/resize-pass.js';
import type { Rebalancer, RebalanceOutcome } from './placement/rebalancer.js';
import type { RolloutDriver, RolloutOutcome, RolloutPlan } from './rollout/rollout-driver.js';
import { revisionOf, streamAt, type ResolvedRevision } from './rollout/revision.js';
import type { AccessPass } from './access/stream-access.js';

/**
 * What a pass needs, each as the narrow part it uses: the caches, the writer, the engines, the
 * placement and rollout passes, events, metrics, a clock. Tests stand in for any of them.
 */
export interface ReconcilerDeps {
  streams: Pick<Informer<EngramStream>, 'get'>;
  pods: Pick<Informer<V1Pod>, 'list'>;
  statefulSets: Pick<Informer<V1StatefulSet>, 'get'>;
  applier: Pick<Applier, 'apply' | 'read' | 'delete' | 'patchStatus'>;
  fleet: Pick<EngineFleet, 'converge' | 'useAddresses'>;
  rebalancer: Pick<Rebalancer, 'reconcile'>;
  rollouts: Pick<RolloutDriver, 'plan' | 'advance' | 'forget'>;
  access: Pick<AccessPass, 'resolve'>;
  recorder: Pick<EventRecorder, 'event'>;
  metrics: Pick<StreamMetrics, 'record' | 'forget'>;
  /** Whether a CRD is installed (cached by the caller). */
  crdInstalled(name: string): Promise<boolean>;
  defaultImage: string;
  now(): Date;
}

/** How soon to look again when nothing else will wake the key up. */
const REQUEUE = { rollout: 1000, rebalancing: 300, sharedQuotas: 5_000, converging: 5_000, keys: 10_000, degraded: 30_000, steady: 60_000 } as const;

export class EngramStreamReconciler {
  constructor(private readonly deps: ReconcilerDeps) {}

  readonly reconcile = async (key: string, signal: AbortSignal = new AbortController().signal): Promise<ReconcileResult> => {
    const { deps } = this;
    const stream = deps.streams.get(key);
    if (!stream || stream.metadata.deletionTimestamp) {
      // Owned objects carry owner references: the garbage collector removes them.
      deps.fleet.useAddresses(key, new Set());
      deps.rollouts.forget(key);
      const [namespace, name] = key.split('/') as [string, string];
      deps.metrics.forget(namespace, name);
      return {};
    }
    let desired: ResolvedRevision | null = null;
    let configError: string | null = null;
    try {
      desired = revisionOf(stream.spec, deps.defaultImage);
    } catch (e) {
      configError = e instanceof Error ? e.message : String(e);
    }
    const pods = this.podsOf(stream);
    // Who the engines let in: read each pass, so a rotated key Secret reaches them within REQUEUE.keys.
    const access = await deps.access.resolve(stream);
    for (const problem of access.problems) deps.recorder.event(stream, 'Warning', 'AccessIncomplete', problem);
    // What each pod runs: the stable version, or on canary pods the canary's (no plan: spec invalid).
    const now = deps.now();
    const plan = desired ? await deps.rollouts.plan(stream, desired, now) : null;
    const engines = await deps.fleet.converge(key, pods, enginePorts(stream).grpc, plan ? (pod) => plan.configFor(ordinalOf(pod, stream) ?? 0) : null, { ...access.client, keys: access.keys });

    let statefulSet: V1StatefulSet | undefined;
    let reconcileError: string | null = null;
    const existingPods = this.currentReplicas(stream);
    let placement: RebalanceOutcome | undefined;
    try {
      placement = await deps.rebalancer.reconcile(stream, pods, enginePorts(stream).grpc, existingPods, plan ?? NO_COHORT);
    } catch (e) {
      reconcileError = `placement: ${e instanceof Error ? e.message : String(e)}`;
    }
    let rollout: RolloutOutcome | undefined;
    try {
      const metrics = {
        port: enginePorts(stream).metrics, ...(access.client.apiKey ? { apiKey: access.client.apiKey } : {}),
        ...(stream.spec.tls?.metrics ? { tls: { ...(access.client.tls?.ca ? { ca: access.client.tls.ca } : {}), ...(access.client.tls?.serverName ? { serverName: access.client.tls.serverName } : {}) } } : {}),
      };
      if (plan && placement) rollout = await deps.rollouts.advance(stream, plan, desired ?? undefined, pods, engines, placement.view, metrics, now, signal);
    } catch (e) {
      reconcileError ??= `rollout: ${e instanceof Error ? e.message : String(e)}`;
    }
    try {
      // Without a placement pass the StatefulSet keeps its size: a resize is never taken blind.
      statefulSet = await this.applyOwnedObjects(stream, plan, engines, placement?.statefulSetReplicas ?? (existingPods || (stream.spec.replicas ?? 1)), access.client.tls?.serverName);
      if (statefulSet) await this.repairStuckPods(stream, pods, statefulSet);
    } catch (e) {
      reconcileError ??= e instanceof Error ? e.message : String(e);
    }
    const status = calculateStatus({
      stream, statefulSet, pods, engines, selector: selectorString(stream), desiredHash: desired?.configHash ?? null, configError,
      workers: desired?.config.workers, reconcileError, rollout: rollout?.status,
      canaryPods: new Set(plan?.canary ? pods.filter((p) => plan.canaryOrdinals.includes(ordinalOf(p, stream) ?? -1)).map((p) => p.metadata!.name!) : []),
      ...(placement ? { placement: { status: placement.placement, podSpaces: placement.podSpaces, busy: placement.busy } } : {}),
    }, now);
    for (const e of [...placement?.events ?? [], ...rollout?.events ?? []]) deps.recorder.event(stream, e.type, e.reason, e.message);
    this.recordEvents(stream, engines, status);
    deps.metrics.record(stream.metadata.namespace!, stream.metadata.name!, status);
    await this.syncStatus(stream, status);
    if (reconcileError !== null) throw new Error(reconcileError);
    if (placement?.busy) return { requeueAfterMs: REQUEUE.rebalancing };
    if (rollout?.active) return { requeueAfterMs: REQUEUE.rollout };
    // Quotas over several pods are only as fresh as the usage each pass shares between them.
    const quotas = stream.spec.tenants?.some((t) => (t.maxVectors ?? 0) > 0 || (t.maxSpaces ?? 0) > 0) ?? false;
    if (quotas && (placement?.placement.ring ?? 1) > 1) return { requeueAfterMs: REQUEUE.sharedQuotas };
    // Secrets are read, not watched: a stream whose keys come from them is looked at again soon.
    if ((stream.spec.auth?.keys?.length ?? 0) > 0) return { requeueAfterMs: REQUEUE.keys };
    if (status.conditions?.some((c) => c.type === ConditionType.Degraded && c.status === 'True')) return { requeueAfterMs: REQUEUE.degraded };
    return { requeueAfterMs: status.phase === 'Running' || status.phase === 'Stopped' ? REQUEUE.steady : REQUEUE.converging };
  };

  /** The StatefulSet's replicas as last written (0 before it exists). */
  private currentReplicas(stream: EngramStream): number {
    const set = this.deps.statefulSets.get(`${stream.metadata.namespace}/${streamNames(stream).statefulSet}`);
    return set?.spec?.replicas ?? 0;
  }

  private podsOf(stream: EngramStream): V1Pod[] {
    return this.deps.pods.list()
      .filter((p) => p.metadata?.namespace === stream.metadata.namespace && p.metadata?.labels?.[STREAM_LABEL] === stream.metadata.name)
      .sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
  }

  /**
   * The ConfigMap gets the desired config unless an engine refused it (then it keeps the last good
   * one, so a restarting pod does not come back with a config its data cannot take). Without any
   * config to start from, no StatefulSet is created.
   */
  private async applyOwnedObjects(stream: EngramStream, plan: RolloutPlan | null, engines: EngineReport[], replicas: number, serverName?: string): Promise<V1StatefulSet | undefined> {
    const { applier } = this.deps;
    const names = streamNames(stream);
    const namespace = stream.metadata.namespace!;
    const refused = engines.some((e) => e.refused);
    // Pods restart with the stable config (canary pods get theirs pushed once ready). The ConfigMap
    // is read only when that config cannot go in it.
    const startConfig = plan && !refused ? { config: plan.stable.config, hash: plan.stable.configHash }
      : configOf(await applier.read<V1ConfigMap>({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: names.configMap, namespace } }));
    if (!startConfig) return undefined;
    await applier.apply(buildConfigMap(stream, startConfig.config, startConfig.hash));
    await applier.apply(buildHeadlessService(stream));
    await applier.apply(buildClientService(stream));
    const template = plan ? streamAt(stream, plan.template) : stream;
    const statefulSet = await applier.apply(buildStatefulSet(template, this.deps.defaultImage, replicas, plan?.partition ?? 0));
    await applier.apply(buildPodDisruptionBudget(stream));
    if (await this.deps.crdInstalled(SERVICE_MONITOR_CRD)) await applier.apply(buildServiceMonitor(stream, serverName));
    if (stream.spec.networkPolicy?.enabled ?? true) await applier.apply(buildNetworkPolicy(stream));
    else await applier.delete(buildNetworkPolicy(stream));
    return statefulSet;
  }

  /**
   * Deletes a pod that is not ready and runs a revision the StatefulSet no longer wants: with
   * OrderedReady the StatefulSet controller waits forever for a broken pod to become ready before
   * it replaces it (kubernetes#67250), so a reverted image would never reach it.
   */
  private async repairStuckPods(stream: EngramStream, pods: V1Pod[], statefulSet: V1StatefulSet): Promise<void> {
    const update = statefulSet.status?.updateRevision;
    const partition = statefulSet.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
    if (!update) return;
    for (const pod of pods) {
      const ordinal = ordinalOf(pod, stream) ?? -1;
      const revision = pod.metadata?.labels?.['controller-revision-hash'];
      const stuck = pod.status?.containerStatuses?.some((c) => !c.ready && (c.restartCount ?? 0) > 0) ?? false;
      if (ordinal >= partition && revision && revision !== update && stuck && !pod.metadata?.deletionTimestamp) {
        await this.deps.applier.delete(pod);
        this.deps.recorder.event(stream, 'Normal', 'StuckPodReplaced', `pod ${pod.metadata!.name} runs revision ${revision}, is not ready and keeps restarting: deleted so the StatefulSet recreates it at ${update}`);
      }
    }
  }

  /** Events for what changed: configs pushed, and every condition that changed status or reason. */
  private recordEvents(stream: EngramStream, engines: EngineReport[], status: EngramStreamStatus): void {
    for (const e of engines) {
      if (e.pushed) this.deps.recorder.event(stream, 'Normal', 'ConfigPushed', `engine ${e.name} now runs config ${e.configHash} (generation ${e.configGeneration})`);
    }
    for (const c of status.conditions ?? []) {
      const before = stream.status?.conditions?.find((p) => p.type === c.type);
      if (before?.status === c.status && before.reason === c.reason) continue;
      const warning = isWarning(c);
      if (!before && !warning && c.status === 'False' && c.type !== ConditionType.Ready) continue; // nothing to say on the first pass
      this.deps.recorder.event(stream, warning ? 'Warning' : 'Normal', c.reason, `${c.type}=${c.status}: ${c.message}`);
    }
  }

  /** Writes the status only if it differs from what the object has. */
  private async syncStatus(stream: EngramStream, status: EngramStreamStatus): Promise<void> {
    if (canonicalJson(normalize(stream.status)) === canonicalJson(normalize(status))) return;
    await this.deps.applier.patchStatus(GROUP, VERSION, PLURAL, stream.metadata.namespace!, stream.metadata.name!, mergePatch(normalize(stream.status), normalize(status)));
  }
}

/**
 * A JSON merge patch from `before` to `after`: a merge patch keeps what it does not name, so a
 * field the new status no longer has (an abort reason, a resize's wait) is named with null.
 */
export function mergePatch(before: unknown, after: unknown): unknown {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(before) || !isObject(after)) return after;
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(before)) if (!(key in after)) patch[key] = null;
  for (const [key, value] of Object.entries(after)) patch[key] = mergePatch(before[key], value);
  return patch;
}

/** Status as the API server returns it: dates as strings (key order is canonicalJson's concern). */
function normalize(status: EngramStreamStatus | undefined): unknown {
  return JSON.parse(JSON.stringify(status ?? {}));
}
