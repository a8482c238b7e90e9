// The reconciler without a cluster: caches, writer, engines and placement stood in for, the real
// rollout driver and state machine, an injected clock.
import type { KubernetesObject, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { EngramStream } from '../../api/v1alpha1/types.js';
import { CONFIG_HASH_ANNOTATION } from './desired/config-map.js';
import type { DesiredConfig, EngineReport } from './engine-fleet.js';
import type { CohortPlan, RebalanceOutcome } from './placement/rebalancer.js';
import { EngramStreamReconciler, mergePatch, type ReconcilerDeps } from './reconciler.js';
import { RolloutDriver } from './rollout/rollout-driver.js';

const NOW = new Date('2026-12-02T10:00:00Z');
const stream = (batchMax: number): EngramStream => ({
  apiVersion: 'engram.io/v1alpha1', kind: 'EngramStream', metadata: { name: 's', namespace: 'ns', uid: 'u', generation: 2 },
  spec: { replicas: 1, batch: { max: batchMax }, rollout: { steps: [{ setWeight: 50 }] } },
});
const pod = (ordinal: number): V1Pod => ({
  metadata: { name: `s-${ordinal}`, namespace: 'ns', uid: `p${ordinal}`, labels: { 'engram.io/stream': 's' } },
  status: { podIP: `10.0.0.${ordinal}`, conditions: [{ type: 'Ready', status: 'True' }] },
});

/** A reconciler over stand-ins; `stored` is what the fake API server holds. */
function harness(current: EngramStream | undefined, pods: V1Pod[]) {
  let currentPods = pods;
  const stored = new Map<string, KubernetesObject>();
  const pushed: Array<Map<string, string>> = [];
  const cohorts: CohortPlan[] = [];
  const events: string[] = [];
  const keyOf = (o: KubernetesObject) => `${o.kind}/${o.metadata!.name}`;
  const applier: ReconcilerDeps['applier'] = {
    apply: async <T extends KubernetesObject>(o: T) => { stored.set(keyOf(o), structuredClone(o)); return o; },
    read: async <T extends KubernetesObject>(o: T) => stored.get(keyOf(o)) as T | undefined,
    delete: async (o) => { stored.delete(keyOf(o)); },
    patchStatus: async () => undefined,
  };
  const deps: ReconcilerDeps = {
    streams: { get: () => current },
    pods: { list: () => currentPods },
    statefulSets: { get: () => stored.get('StatefulSet/s') as V1StatefulSet | undefined },
    applier,
    fleet: {
      converge: async (_key, list, _port, desiredFor) => {
        const configs = new Map(list.map((p) => [p.metadata!.name!, (desiredFor?.(p) as DesiredConfig).hash]));
        pushed.push(configs);
        return list.map((p): EngineReport => ({ name: p.metadata!.name!, uid: p.metadata!.uid!, ready: true, configHash: configs.get(p.metadata!.name!)!, configGeneration: 1, pushed: false }));
      },
      useAddresses: () => undefined,
    },
    rebalancer: {
      reconcile: async (_s, _p, _port, _existing, cohort): Promise<RebalanceOutcome> => {
        cohorts.push(cohort ?? { holdRing: false, canaryOrdinals: [], cohortTarget: () => undefined });
        return {
          statefulSetReplicas: 1 + (cohort?.canaryOrdinals.length ?? 0), podSpaces: new Map(), events: [], busy: false,
          placement: { generation: 1, ring: 1, desiredRing: 1, movesInProgress: 0, movesPending: 0, moves: [] },
          view: { resizeBusy: false, complete: true, cohortSettled: true, canaryEmpty: true, spacesByOrdinal: new Map([[0, ['a', 'b', 'c', 'd']]]) },
        };
      },
    },
    rollouts: new RolloutDriver({ applier, defaultImage: 'engram.io/engine:test', httpGet: async () => '' }),
    recorder: { event: (_o, _type, reason) => { events.push(reason); } },
    metrics: { record: () => undefined, forget: () => undefined },
    access: { resolve: async () => ({ client: {}, keys: null, problems: [] }) },
    crdInstalled: async () => false,
    defaultImage: 'engram.io/engine:test',
    now: () => NOW,
  };
  return {
    reconciler: new EngramStreamReconciler(deps), stored, pushed, cohorts, events,
    setStream: (s: EngramStream | undefined) => { current = s; },
    setPods: (p: V1Pod[]) => { currentPods = p; },
  };
}

describe('the reconciler, without a cluster', () => {
  it('rolls a changed spec out to a canary pod only: canary config there, the stable config and template for the ring', async () => {
    const h = harness(stream(500), [pod(0)]);
    await h.reconciler.reconcile('ns/s', new AbortController().signal);
    const stableHash = h.pushed[0]!.get('s-0')!;
    const startConfig = () => h.stored.get('ConfigMap/s-config')?.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
    expect(startConfig()).toBe(stableHash);

    h.setStream(stream(200));
    const started = await h.reconciler.reconcile('ns/s', new AbortController().signal);
    expect(h.events).toEqual(expect.arrayContaining(['RolloutStarted', 'WeightSet']));
    expect(started.requeueAfterMs).toBeLessThanOrEqual(1000);

    // The next pass: a canary pod (ordinal 1, after the ring) serves half the spaces with the new config.
    h.setPods([pod(0), pod(1)]);
    await h.reconciler.reconcile('ns/s', new AbortController().signal);
    const configs = h.pushed.at(-1)!;
    expect(configs.get('s-0')).toBe(stableHash);
    expect(configs.get('s-1')).not.toBe(stableHash);
    const cohort = h.cohorts.at(-1)!;
    expect(cohort).toMatchObject({ holdRing: true, canaryOrdinals: [1] });
    expect(['a', 'b', 'c', 'd'].filter((space) => cohort.cohortTarget(space) === 1)).toHaveLength(2); // 50% of 4 spaces
    const set = h.stored.get('StatefulSet/s') as V1StatefulSet;
    expect(set.spec?.replicas).toBe(2);
    expect(set.spec?.updateStrategy?.rollingUpdate?.partition).toBe(1);
    expect(startConfig()).toBe(stableHash); // a pod that restarts comes back on the stable config
  });

  it('forgets a stream that is gone', async () => {
    const h = harness(undefined, [pod(0)]);
    expect(await h.reconciler.reconcile('ns/s', new AbortController().signal)).toEqual({});
    expect(h.stored.size).toBe(0);
  });
});

describe('mergePatch', () => {
  it('names with null what the new status dropped, at any depth, and replaces lists whole', () => {
    const before = { phase: 'Running', rollout: { phase: 'Aborted', abortReason: 'x', actualWeight: { spaces: 1 } }, placement: { waiting: 'w', ring: 2 }, pods: [{ name: 'a' }] };
    const after = { phase: 'Running', rollout: { phase: 'Progressing', actualWeight: { spaces: 2 } }, placement: { ring: 2 }, pods: [{ name: 'b' }] };
    expect(mergePatch(before, after)).toEqual({
      phase: 'Running', rollout: { phase: 'Progressing', abortReason: null, actualWeight: { spaces: 2 } }, placement: { waiting: null, ring: 2 }, pods: [{ name: 'b' }],
    });
  });
});
