// The operator's side of scale-out: it owns the stream's placement (stored in the API, pushed to
// every engine), and turns a change of spec.replicas into hand-offs of memory spaces.
//
// Scale-out: the StatefulSet grows first; once the new pods are ready the ring takes them in, and
// every space the new ring gives to another pod is pinned (an assignment) to the pod holding it,
// then moved one hand-off at a time: the new owner copies it and verifies counts and checksums,
// and only then does the operator drop the pin (a new generation) so the space flips at once on
// every engine. Scale-in: the ring shrinks first and the leaving pods' spaces move the same way;
// the StatefulSet loses its pods only once they hold nothing. Every step is level-based: a pass
// reads what is stored and what each engine reports, does the next thing, and stores it, so a new
// leader (or a restarted pod) picks up where the last pass stopped.
import type { V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import type { EngramStream } from '../../../api/v1alpha1/types.js';
import { isPodReady } from '../engine-fleet.js';
import { ordinalOf } from '../names.js';
import { placementConfigMapName, recordOf, type PlacementRecord } from './placement-record.js';
import { NO_COHORT, range, ResizePass, sameList, type CohortPlan, type Endpoint, type EngineView, type RebalanceOutcome, type RebalancerDeps } from './resize-pass.js';

export type { CohortPlan, RebalanceEvent, RebalanceOutcome, RebalancerDeps } from './resize-pass.js';

export class Rebalancer {
  constructor(private readonly deps: RebalancerDeps) {}

  /**
   * One pass: store and push the placement, take the resize one step further, and say what the
   * StatefulSet's replicas must be. `existingPods`: the StatefulSet's current replicas.
   */
  async reconcile(stream: EngramStream, pods: V1Pod[], grpcPort: number, existingPods: number, cohort: CohortPlan = NO_COHORT): Promise<RebalanceOutcome> {
    const wanted = stream.spec.replicas ?? 1;
    const configMap = await this.deps.applier.read<V1ConfigMap>({
      apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: placementConfigMapName(stream), namespace: stream.metadata.namespace! },
    });
    const stored = recordOf(configMap);
    // A stream starts with pod 0 on the ring (every stream before scale-out had one pod); the ring
    // takes the others in, as for any scale-out, once they are ready.
    const record: PlacementRecord = stored ?? { generation: 1, members: [], ring: [0], assignments: {}, moves: {} };
    const endpoints = endpointsOf(stream, pods, grpcPort);
    const views = await this.observe(endpoints);
    const pass = new ResizePass(this.deps, stream, record, stored !== undefined, endpoints, views, cohort);
    // A rollout and a resize never run at once: the ring keeps its size until the rollout ends.
    const desired = cohort.holdRing && wanted !== 0 ? record.ring.length : wanted;
    if (desired !== wanted) pass.waiting.push(`the resize to ${wanted} pod(s) waits for the rollout to end`);
    pass.refreshMembers(existingPods);
    pass.markCanary();
    pass.resizeRing(desired, existingPods);
    pass.dropSettledPins();
    if (pass.record.members.length > 0) await pass.save();
    await pass.advanceMoves();
    const reopened = await pass.reopenAbandoned();
    await pass.releaseStale();
    await pass.shareUsage();
    const replicas = pass.statefulSetReplicas(desired, Math.max(existingPods, pass.record.ring.length));
    if (pass.record.members.length > 0) await pass.save();
    const toMove = pass.toMove();
    const resizing = replicas !== desired + cohort.canaryOrdinals.length || !sameList(pass.record.ring, range(desired)) || desired !== wanted;
    const canary = new Set(cohort.canaryOrdinals);
    // Where each space is after this pass's flips (what the engines reported predates them).
    const spacesByOrdinal = new Map<number, string[]>();
    const known = new Set([...views.values()].flatMap((v) => v.held.filter((h) => h.owned).map((h) => h.space)));
    for (const space of known) {
      const holder = pass.holderOf(space);
      spacesByOrdinal.set(holder, [...(spacesByOrdinal.get(holder) ?? []), space]);
    }
    return {
      statefulSetReplicas: replicas, placement: pass.status(wanted), podSpaces: pass.podSpaces(), events: pass.events,
      busy: toMove.length > 0 || resizing || reopened > 0,
      view: {
        // A resize is under way when the ring is not the spec's, or spaces move off their ring owners.
        resizeBusy: resizing || toMove.some((s) => cohort.cohortTarget(s) === undefined && !canary.has(pass.holderOf(s))),
        // Judged only on a report from every pod: a silent one may hold spaces that still move.
        complete: [...endpoints.keys()].every((o) => views.has(o)),
        cohortSettled: toMove.length === 0 && [...endpoints.keys()].every((o) => views.has(o)),
        canaryEmpty: [...canary].every((o) => (views.get(o)?.held.length ?? 0) === 0) && Object.values(pass.record.assignments).every((o) => !canary.has(o)),
        spacesByOrdinal,
      },
    };
  }

  /** Asks every ready engine what it holds, which placement it routes by, and its hand-offs. */
  private async observe(endpoints: Map<number, Endpoint>): Promise<Map<number, EngineView>> {
    const views = new Map<number, EngineView>();
    await Promise.all([...endpoints.values()].map(async (endpoint) => {
      if (!endpoint.ready || !endpoint.address) return;
      const client = this.deps.client(endpoint.address);
      try {
        const [stats, topology, handoffs] = await Promise.all([client.stats(), client.topology(), client.handoffs()]);
        views.set(endpoint.ordinal, {
          endpoint: { ...endpoint, address: endpoint.address }, client, generation: topology.generation, confirmed: topology.confirmed,
          held: stats.spaces.map((s) => ({ space: s.memorySpace, tenant: s.tenant, vectors: Number(s.vectors), owned: s.owned })),
          imports: handoffs.imports, sealed: handoffs.sealed,
        });
      } catch {
        // not reachable in this pass: treated as not ready
      }
    }));
    return views;
  }
}

/** The stream's pods by StatefulSet ordinal. */
function endpointsOf(stream: EngramStream, pods: V1Pod[], grpcPort: number): Map<number, Endpoint> {
  const out = new Map<number, Endpoint>();
  for (const pod of pods) {
    const ordinal = ordinalOf(pod, stream);
    if (ordinal === undefined) continue;
    out.set(ordinal, { ordinal, name: pod.metadata!.name!, address: pod.status?.podIP ? `${pod.status.podIP}:${grpcPort}` : null, ready: isPodReady(pod) });
  }
  return out;
}
