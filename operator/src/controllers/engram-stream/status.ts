// The status of an EngramStream, computed whole from what this pass observed (the StatefulSet,
// the pods, what each engine reported), never carried over from the last status except for each
// unchanged condition's lastTransitionTime.
import type { V1Condition, V1Container, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { ConditionType, Reason } from '../../api/v1alpha1/conditions.js';
import type { EngramStream, EngramStreamStatus, Phase, PlacementStatus, PodSpaces, RolloutStatus } from '../../api/v1alpha1/types.js';
import type { EngineReport } from './engine-fleet.js';
import { ordinalOf } from './names.js';

/** What a pass found out, the input of calculateStatus. */
export interface Observation {
  stream: EngramStream;
  statefulSet: V1StatefulSet | undefined;
  pods: V1Pod[];
  engines: EngineReport[];
  selector: string;
  /** Null when the spec resolves to a config the engine's validation refuses (configError says why). */
  desiredHash: string | null;
  configError: string | null;
  workers: number | undefined;
  /** An error that stopped the pass (it will be retried). */
  reconcileError: string | null;
  /** The placement pass: where spaces live and the resize under way (absent when it could not run). */
  placement?: { status: PlacementStatus; podSpaces: Map<string, PodSpaces>; busy: boolean };
  /** The canary rollout (absent when spec.rollout is not set and none drains). */
  rollout?: RolloutStatus | undefined;
  /** Names of the pods serving the canary version. */
  canaryPods?: Set<string>;
}

type ConditionInput = Pick<V1Condition, 'type' | 'status' | 'reason' | 'message'>;

/** Conditions with lastTransitionTime kept from `previous` when their status did not change. */
export function mergeConditions(previous: V1Condition[] | undefined, next: ConditionInput[], generation: number, now: Date): V1Condition[] {
  const seconds = new Date(Math.floor(now.getTime() / 1000) * 1000); // what the API server keeps
  return next.map((c) => {
    const old = previous?.find((p) => p.type === c.type);
    return { ...c, observedGeneration: generation, lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : seconds };
  });
}

const condition = (type: ConditionType, status: boolean, reason: Reason, message: string): ConditionInput =>
  ({ type, status: status ? 'True' : 'False', reason, message });

function configApplied(o: Observation, desiredReplicas: number): ConditionInput {
  if (o.configError !== null) return condition(ConditionType.ConfigApplied, false, Reason.InvalidConfig, o.configError);
  const refused = o.engines.find((e) => e.refused);
  if (refused) return condition(ConditionType.ConfigApplied, false, Reason.EngineRejectedConfig, `engine ${refused.name} refused the config and keeps its last good one: ${refused.refused!.message}`);
  const unreachable = o.engines.find((e) => e.unreachable);
  if (unreachable) return condition(ConditionType.ConfigApplied, false, Reason.EngineUnreachable, `engine ${unreachable.name} could not be asked: ${unreachable.unreachable}`);
  const ready = o.engines.filter((e) => e.ready);
  if (desiredReplicas === 0) return condition(ConditionType.ConfigApplied, false, Reason.NoEngineRunning, 'no engine runs (replicas: 0)');
  if (ready.length === 0) return condition(ConditionType.ConfigApplied, false, Reason.NoEngineRunning, 'no engine is ready yet');
  const stale = ready.filter((e) => e.configHash !== (e.expectedHash ?? o.desiredHash));
  if (stale.length > 0) return condition(ConditionType.ConfigApplied, false, Reason.ConfigOutOfSync, stale.map((e) => `${e.name} runs ${e.configHash}, desired ${e.expectedHash ?? o.desiredHash}`).join('; '));
  // Applied means served: recalls on a graph still built with the old M / efConstruction are not.
  const rebuilding = ready.filter((e) => e.indexRebuild);
  if (rebuilding.length > 0) return condition(ConditionType.ConfigApplied, false, Reason.IndexRebuilding, rebuilding.map(describeRebuild).join('; '));
  const hashes = [...new Set(ready.map((e) => e.configHash))];
  return condition(ConditionType.ConfigApplied, true, Reason.ConfigInSync, `${ready.length} ready engine(s) run config ${hashes.join(' and ')}`);
}

function describeRebuild(e: EngineReport): string {
  const r = e.indexRebuild!;
  return `engine ${e.name} runs config ${e.configHash} and rebuilds its indexes in the background: ${r.spacesPending} of ${r.spacesTotal} memory spaces left, the current one ${Math.round(r.currentProgress * 100)}% done`;
}

/** The parts of the engine container a pod template change rolls: image, pull policy, ports, resources. */
function rolledFields(c: V1Container | undefined): string {
  return JSON.stringify([c?.image, c?.imagePullPolicy ?? null, (c?.ports ?? []).map((p) => p.containerPort), c?.resources ?? null]);
}

/**
 * Why the StatefulSet's pods do not all run its template yet, or null: two revisions at once, or a
 * pod at or above the partition (every pod outside a canary) whose engine container differs from
 * the template just applied (the StatefulSet controller may not have seen it yet).
 */
function rollPending(stream: EngramStream, set: V1StatefulSet | undefined, pods: V1Pod[]): string | null {
  const revisions = set?.status;
  if (revisions?.currentRevision && revisions.updateRevision && revisions.currentRevision !== revisions.updateRevision
    && (revisions.updatedReplicas ?? 0) < (revisions.replicas ?? 0) - (set?.spec?.updateStrategy?.rollingUpdate?.partition ?? 0)) {
    return `rolling engine pods from revision ${revisions.currentRevision} to ${revisions.updateRevision}`;
  }
  const template = set?.spec?.template.spec?.containers[0];
  if (!template) return null;
  const partition = set?.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
  const stale = pods.filter((p) => !p.metadata?.deletionTimestamp && (ordinalOf(p, stream) ?? -1) >= partition
    && p.spec?.containers[0] && rolledFields(p.spec.containers[0]) !== rolledFields(template));
  return stale.length > 0 ? `engine pod(s) ${stale.map((p) => p.metadata?.name).join(', ')} still run an older pod template (image ${stale[0]!.spec!.containers[0]!.image}, the template ${template.image})` : null;
}

function progressing(o: Observation, desiredReplicas: number, readyReplicas: number): ConditionInput {
  // A roll is two revisions at once; a StatefulSet still creating its first pods is PodsNotReady below.
  const roll = rollPending(o.stream, o.statefulSet, o.pods);
  if (roll) return condition(ConditionType.Progressing, true, Reason.RollingUpdate, roll);
  const resize = o.placement ? rebalancing(o.placement.status) : null;
  if (resize?.status === 'True') return { ...resize, type: ConditionType.Progressing };
  if (readyReplicas !== desiredReplicas || o.pods.length !== desiredReplicas) {
    return condition(ConditionType.Progressing, true, Reason.PodsNotReady, `${readyReplicas} of ${desiredReplicas} engine pods ready`);
  }
  if (o.engines.some((e) => e.pushed)) return condition(ConditionType.Progressing, true, Reason.PushingConfig, 'config pushed to running engines');
  const rebuilding = o.engines.filter((e) => e.ready && e.indexRebuild);
  if (rebuilding.length > 0) return condition(ConditionType.Progressing, true, Reason.IndexRebuilding, rebuilding.map(describeRebuild).join('; '));
  return condition(ConditionType.Progressing, false, Reason.Stable, 'nothing to roll out');
}

function degraded(o: Observation, applied: ConditionInput): ConditionInput {
  if (o.configError !== null) return condition(ConditionType.Degraded, true, Reason.InvalidConfig, o.configError);
  if (applied.reason === Reason.EngineRejectedConfig) return condition(ConditionType.Degraded, true, Reason.EngineRejectedConfig, applied.message!);
  if (o.reconcileError !== null) return condition(ConditionType.Degraded, true, Reason.ReconcileError, o.reconcileError);
  return condition(ConditionType.Degraded, false, Reason.AsExpected, 'reconciled');
}

/** True while a canary rollout runs; its reason is the rollout's phase. */
function rolloutCondition(rollout: RolloutStatus): ConditionInput {
  const running = rollout.phase !== 'Healthy' && rollout.phase !== 'Aborted';
  const reason = { Healthy: Reason.RolloutHealthy, Progressing: Reason.RolloutProgressing, Paused: Reason.RolloutPaused, Promoting: Reason.RolloutPromoting, Aborting: Reason.RolloutAborting, Aborted: Reason.RolloutAborted }[rollout.phase];
  const where = running ? `step ${Math.min(rollout.stepIndex + 1, rollout.steps)} of ${rollout.steps}, weight ${rollout.requestedWeight}% requested, ${rollout.actualWeight.spaces} of ${rollout.actualWeight.totalSpaces} memory spaces on canary pods: ` : '';
  return condition(ConditionType.Rollout, running, reason, `${where}${rollout.message ?? `every engine runs ${rollout.stable.hash}`}`);
}

function rebalancing(placement: PlacementStatus): ConditionInput {
  const moving = placement.movesInProgress + placement.movesPending;
  if (placement.waiting) return condition(ConditionType.Rebalancing, true, Reason.ResizePending, placement.waiting);
  if (moving > 0) {
    const failing = placement.moves.find((m) => m.lastError);
    const lastFailure = failing ? `; '${failing.space}' failed ${failing.attempts - 1} time(s), last: ${failing.lastError}` : '';
    return condition(ConditionType.Rebalancing, true, Reason.MovingSpaces,
      `${placement.movesInProgress} memory space(s) being handed over, ${placement.movesPending} waiting; ring ${placement.ring} of ${placement.desiredRing} pod(s)${lastFailure}`);
  }
  if (placement.ring !== placement.desiredRing && placement.desiredRing > 0) {
    return condition(ConditionType.Rebalancing, true, Reason.ResizePending, `ring ${placement.ring} of ${placement.desiredRing} pod(s)`);
  }
  return condition(ConditionType.Rebalancing, false, Reason.Balanced, `every memory space is on its ring owner (placement generation ${placement.generation})`);
}

/** Conditions that are reported as Warning Events when they turn to this status. */
export function isWarning(c: Pick<V1Condition, 'type' | 'status' | 'reason'>): boolean {
  return (c.type === ConditionType.Degraded && c.status === 'True') || (c.type === ConditionType.Rollout && (c.reason === Reason.RolloutAborting || c.reason === Reason.RolloutAborted));
}

function phaseOf(desiredReplicas: number, ready: boolean, isDegraded: boolean, isProgressing: boolean): Phase {
  if (isDegraded) return 'Degraded';
  if (desiredReplicas === 0) return 'Stopped';
  if (ready) return 'Running';
  return isProgressing ? 'Updating' : 'Pending';
}

export function calculateStatus(o: Observation, now: Date): EngramStreamStatus {
  const desiredReplicas = o.stream.spec.replicas ?? 1;
  const readyReplicas = o.engines.filter((e) => e.ready).length;
  const applied = configApplied(o, desiredReplicas);
  const progress = progressing(o, desiredReplicas, readyReplicas);
  const degrade = degraded(o, applied);
  // A scale-in keeps its leaving pods serving until they are drained: more ready pods than desired is ready.
  // Pods that still run an older template (image, resources) do not serve the desired spec either.
  const roll = rollPending(o.stream, o.statefulSet, o.pods);
  const isReady = desiredReplicas > 0 && readyReplicas >= desiredReplicas && applied.status === 'True' && roll === null;
  const ready = desiredReplicas === 0
    ? condition(ConditionType.Ready, false, Reason.ScaledToZero, 'scaled to zero: no engine serves; its data is kept')
    : isReady ? condition(ConditionType.Ready, true, Reason.AllPodsReady, `${readyReplicas} engine(s) ready with the desired config`)
      : roll !== null && readyReplicas >= desiredReplicas && applied.status === 'True' ? condition(ConditionType.Ready, false, Reason.RollingUpdate, roll)
      : condition(ConditionType.Ready, false, readyReplicas >= desiredReplicas ? applied.reason as Reason : Reason.PodsNotReady,
        readyReplicas >= desiredReplicas ? applied.message! : `${readyReplicas} of ${desiredReplicas} engine pods ready`);
  const generation = o.stream.metadata.generation ?? 0;
  const conditions = [ready, progress, degrade, applied];
  if (o.placement) conditions.push(rebalancing(o.placement.status));
  if (o.rollout) conditions.push(rolloutCondition(o.rollout));
  return {
    observedGeneration: generation,
    phase: phaseOf(desiredReplicas, isReady, degrade.status === 'True', progress.status === 'True'),
    replicas: o.pods.length,
    readyReplicas,
    ready: `${readyReplicas}/${desiredReplicas}`,
    selector: o.selector,
    ...(o.workers !== undefined ? { workers: o.workers } : {}),
    ...(o.desiredHash !== null ? { desiredConfigHash: o.desiredHash } : {}),
    pods: o.engines.map(({ name, uid, ready: podReady, configHash, configGeneration, indexRebuild }) => {
      const owned = o.placement?.podSpaces.get(name);
      const track = o.canaryPods?.has(name) ? { track: 'canary' as const } : o.rollout ? { track: 'stable' as const } : {};
      return { name, uid, ready: podReady, configHash, configGeneration, ...track, ...(indexRebuild ? { indexRebuild } : {}), ...(owned ? { owned } : {}) };
    }),
    ...(o.placement ? { placement: o.placement.status } : {}),
    ...(o.rollout ? { rollout: o.rollout } : {}),
    conditions: mergeConditions(o.stream.status?.conditions, conditions, generation, now),
  };
}
