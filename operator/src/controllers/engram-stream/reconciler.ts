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
import { calculateEngineConfig, type DesiredEngineConfig } from './engine-config.js';
import type { EngineFleet, EngineReport } from './engine-fleet.js';
import { selectorString, STREAM_LABEL, streamNames } from './names.js';
import { calculateStatus, isWarning } from './status.js';
import type { StreamMetrics } from './stream-metrics.js';
import type { Rebalancer, RebalanceOutcome } from './placement/rebalancer.js';

export interface ReconcilerDeps {
  streams: Informer<EngramStream>;
  pods: Informer<V1Pod>;
  statefulSets: Informer<V1StatefulSet>;
  applier: Applier;
  fleet: EngineFleet;
  rebalancer: Rebalancer;
  recorder: EventRecorder;
  metrics: StreamMetrics;
  /** Whether a CRD is installed (cached by the caller). */
  crdInstalled(name: string): Promise<boolean>;
  defaultImage: string;
  now(): Date;
}

/** How soon to look again when nothing else will wake the key up. */
const REQUEUE = { rebalancing: 300, sharedQuotas: 5_000, converging: 5_000, degraded: 30_000, steady: 60_000 } as const;

export class EngramStreamReconciler {
  constructor(private readonly deps: ReconcilerDeps) {}

  readonly reconcile = async (key: string): Promise<ReconcileResult> => {
    const { deps } = this;
    const stream = deps.streams.get(key);
    if (!stream || stream.metadata.deletionTimestamp) {
      // Owned objects carry owner references: the garbage collector removes them.
      deps.fleet.useAddresses(key, new Set());
      const [namespace, name] = key.split('/') as [string, string];
      deps.metrics.forget(namespace, name);
      return {};
    }
    let desired: DesiredEngineConfig | null = null;
    let configError: string | null = null;
    try {
      desired = calculateEngineConfig(stream.spec);
    } catch (e) {
      configError = e instanceof Error ? e.message : String(e);
    }
    const pods = this.podsOf(stream);
    const engines = await deps.fleet.converge(key, pods, enginePorts(stream).grpc, desired);

    let statefulSet: V1StatefulSet | undefined;
    let reconcileError: string | null = null;
    const existingPods = this.currentReplicas(stream);
    let placement: RebalanceOutcome | undefined;
    try {
      placement = await deps.rebalancer.reconcile(stream, pods, enginePorts(stream).grpc, existingPods);
    } catch (e) {
      reconcileError = `placement: ${e instanceof Error ? e.message : String(e)}`;
    }
    try {
      // Without a placement pass the StatefulSet keeps its size: a resize is never taken blind.
      statefulSet = await this.applyOwnedObjects(stream, desired, engines, placement?.statefulSetReplicas ?? (existingPods || (stream.spec.replicas ?? 1)));
    } catch (e) {
      reconcileError ??= e instanceof Error ? e.message : String(e);
    }
    const status = calculateStatus({
      stream, statefulSet, pods, engines, selector: selectorString(stream), desiredHash: desired?.hash ?? null, configError,
      workers: desired?.config.workers, reconcileError,
      ...(placement ? { placement: { status: placement.placement, podSpaces: placement.podSpaces, busy: placement.busy } } : {}),
    }, deps.now());
    for (const e of placement?.events ?? []) deps.recorder.event(stream, e.type, e.reason, e.message);
    this.recordEvents(stream, engines, status);
    deps.metrics.record(stream.metadata.namespace!, stream.metadata.name!, status);
    await this.syncStatus(stream, status);
    if (reconcileError !== null) throw new Error(reconcileError);
    if (placement?.busy) return { requeueAfterMs: REQUEUE.rebalancing };
    // Quotas over several pods are only as fresh as the usage each pass shares between them.
    const quotas = stream.spec.tenants?.some((t) => (t.maxVectors ?? 0) > 0 || (t.maxSpaces ?? 0) > 0) ?? false;
    if (quotas && (placement?.placement.ring ?? 1) > 1) return { requeueAfterMs: REQUEUE.sharedQuotas };
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
  private async applyOwnedObjects(stream: EngramStream, desired: DesiredEngineConfig | null, engines: EngineReport[], replicas: number): Promise<V1StatefulSet | undefined> {
    const { applier } = this.deps;
    const names = streamNames(stream);
    const namespace = stream.metadata.namespace!;
    const refused = engines.some((e) => e.refused);
    // The ConfigMap is read only when the desired config cannot go in it.
    const startConfig = desired && !refused ? desired
      : configOf(await applier.read<V1ConfigMap>({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: names.configMap, namespace } }));
    if (!startConfig) return undefined;
    await applier.apply(buildConfigMap(stream, startConfig.config, startConfig.hash));
    await applier.apply(buildHeadlessService(stream));
    await applier.apply(buildClientService(stream));
    const statefulSet = await applier.apply(buildStatefulSet(stream, this.deps.defaultImage, replicas));
    await applier.apply(buildPodDisruptionBudget(stream));
    if (await this.deps.crdInstalled(SERVICE_MONITOR_CRD)) await applier.apply(buildServiceMonitor(stream));
    return statefulSet;
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
    await this.deps.applier.patchStatus(GROUP, VERSION, PLURAL, stream.metadata.namespace!, stream.metadata.name!, status);
  }
}

/** Status as the API server returns it: dates as strings (key order is canonicalJson's concern). */
function normalize(status: EngramStreamStatus | undefined): unknown {
  return JSON.parse(JSON.stringify(status ?? {}));
}
