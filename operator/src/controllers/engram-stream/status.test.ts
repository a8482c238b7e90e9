import type { V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { EngramStream } from '../../api/v1alpha1/types.js';
import type { EngineReport } from './engine-fleet.js';
import { calculateStatus, mergeConditions, type Observation } from './status.js';

const NOW = new Date('2026-11-27T12:00:00.500Z');
const stream = (replicas = 1, conditions?: EngramStream['status']): EngramStream => ({
  apiVersion: 'engram.io/v1alpha1', kind: 'EngramStream', metadata: { name: 's', namespace: 'ns', uid: 'u', generation: 3 }, spec: { replicas }, ...(conditions ? { status: conditions } : {}),
});
const engine = (over: Partial<EngineReport> = {}): EngineReport => ({ name: 's-0', uid: 'p', ready: true, configHash: 'h1', configGeneration: 1, pushed: false, ...over });
const observe = (over: Partial<Observation> = {}): Observation => ({
  stream: stream(), statefulSet: undefined, pods: [{} as V1Pod], engines: [engine()], selector: 'a=b', desiredHash: 'h1', configError: null, workers: 4, reconcileError: null, ...over,
});
const cond = (status: ReturnType<typeof calculateStatus>, type: string) => status.conditions?.find((c) => c.type === type);

describe('calculateStatus', () => {
  it('is Ready and Running when every desired pod is ready with the desired hash', () => {
    const s = calculateStatus(observe(), NOW);
    expect(s).toMatchObject({ phase: 'Running', ready: '1/1', readyReplicas: 1, replicas: 1, observedGeneration: 3, desiredConfigHash: 'h1', workers: 4 });
    expect(cond(s, 'Ready')).toMatchObject({ status: 'True', reason: 'AllPodsReady' });
    expect(cond(s, 'ConfigApplied')).toMatchObject({ status: 'True', reason: 'ConfigInSync' });
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'False' });
  });

  it('is not Ready while an engine still runs another config', () => {
    const s = calculateStatus(observe({ engines: [engine({ configHash: 'old' })] }), NOW);
    expect(cond(s, 'ConfigApplied')).toMatchObject({ status: 'False', reason: 'ConfigOutOfSync' });
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'ConfigOutOfSync' });
  });

  it('is not Ready, and says so per pod, while an engine rebuilds its indexes for the new config', () => {
    const indexRebuild = { spacesPending: 2, spacesTotal: 3, currentProgress: 0.4 };
    const s = calculateStatus(observe({ engines: [engine({ indexRebuild })] }), NOW);
    expect(cond(s, 'ConfigApplied')).toMatchObject({ status: 'False', reason: 'IndexRebuilding' });
    expect(cond(s, 'ConfigApplied')?.message).toContain('2 of 3 memory spaces left, the current one 40% done');
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'IndexRebuilding' });
    expect(cond(s, 'Progressing')).toMatchObject({ status: 'True', reason: 'IndexRebuilding' });
    expect(s.phase).toBe('Updating');
    expect(s.pods?.[0]).toMatchObject({ indexRebuild });
  });

  it('has a Rollout condition only when a rollout is reported, True while one runs', () => {
    expect(cond(calculateStatus(observe(), NOW), 'Rollout')).toBeUndefined();
    const rollout = {
      phase: 'Progressing' as const, stepIndex: 1, steps: 4, stable: { hash: 'a', configHash: 'ca', image: 'i' }, canary: { hash: 'b', configHash: 'cb', image: 'i' },
      requestedWeight: 25, actualWeight: { spaces: 5, totalSpaces: 20, percent: 25 }, canaryPods: 1, message: 'analysing',
    };
    const s = calculateStatus(observe({ rollout }), NOW);
    expect(cond(s, 'Rollout')).toMatchObject({ status: 'True', reason: 'RolloutProgressing' });
    expect(cond(s, 'Rollout')?.message).toBe('step 2 of 4, weight 25% requested, 5 of 20 memory spaces on canary pods: analysing');
    expect(s.rollout).toEqual(rollout);
    const aborted = calculateStatus(observe({ rollout: { ...rollout, phase: 'Aborted', message: 'rolled back' } }), NOW);
    expect(cond(aborted, 'Rollout')).toMatchObject({ status: 'False', reason: 'RolloutAborted', message: 'rolled back' });
  });

  it('turns an engine refusal into Degraded carrying the engine message', () => {
    const s = calculateStatus(observe({ engines: [engine({ configHash: 'old', refused: { code: 'CONFIG_NOT_LIVE', message: 'hnsw.dimension cannot change' } })] }), NOW);
    expect(s.phase).toBe('Degraded');
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'True', reason: 'EngineRejectedConfig' });
    expect(cond(s, 'Degraded')?.message).toContain('hnsw.dimension cannot change');
  });

  it('reports a spec the engine validation refuses as Degraded InvalidConfig, without a desired hash', () => {
    const s = calculateStatus(observe({ desiredHash: null, configError: "invalid config: 'batch.min' (10) must not exceed 'batch.max' (5)" }), NOW);
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'True', reason: 'InvalidConfig' });
    expect(s.desiredConfigHash).toBeUndefined();
  });

  it('says Stopped and ScaledToZero at zero replicas', () => {
    const s = calculateStatus(observe({ stream: stream(0), pods: [], engines: [] }), NOW);
    expect(s.phase).toBe('Stopped');
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'ScaledToZero' });
  });

  it('is Progressing while the StatefulSet rolls to a new revision', () => {
    const s = calculateStatus(observe({
      statefulSet: { metadata: { generation: 2 }, status: { replicas: 1, observedGeneration: 2, currentRevision: 'r1', updateRevision: 'r2', updatedReplicas: 0 } },
      engines: [engine({ ready: false })],
    }), NOW);
    expect(cond(s, 'Progressing')).toMatchObject({ status: 'True', reason: 'RollingUpdate' });
    expect(s.phase).toBe('Updating');
  });
});

describe('mergeConditions', () => {
  it('keeps lastTransitionTime of a condition whose status did not change, and stamps whole seconds otherwise', () => {
    const earlier = new Date('2026-01-01T00:00:00Z');
    const merged = mergeConditions(
      [{ type: 'Ready', status: 'True', reason: 'A', message: '', lastTransitionTime: earlier }, { type: 'Degraded', status: 'False', reason: 'B', message: '', lastTransitionTime: earlier }],
      [{ type: 'Ready', status: 'True', reason: 'C', message: 'x' }, { type: 'Degraded', status: 'True', reason: 'D', message: 'y' }], 7, NOW);
    expect(merged[0]).toMatchObject({ lastTransitionTime: earlier, reason: 'C', observedGeneration: 7 });
    expect(merged[1]!.lastTransitionTime).toEqual(new Date('2026-11-27T12:00:00Z'));
  });
});

describe('a pod template not rolled out yet', () => {
  const container = (image: string) => ({ name: 'engine', image, ports: [{ containerPort: 50051 }] });
  const set = (image: string, partition = 0) => ({
    metadata: { name: 's', generation: 2 },
    spec: { replicas: 2, updateStrategy: { rollingUpdate: { partition } }, template: { spec: { containers: [container(image)] } } },
    status: { observedGeneration: 2, replicas: 2, updatedReplicas: 2, currentRevision: 'a', updateRevision: 'a' },
  }) as unknown as V1StatefulSet;
  const pod = (name: string, image: string) => ({ metadata: { name }, spec: { containers: [container(image)] } }) as unknown as V1Pod;
  const engines = [engine({ name: 's-0' }), engine({ name: 's-1' })];
  const withStream = (o: Partial<Observation>) => observe({ stream: stream(2), engines, ...o });

  it.each([
    ['a pod still runs the image the template no longer has', set('engine:2'), [pod('s-0', 'engine:2'), pod('s-1', 'engine:1')], 'RollingUpdate'],
    ['canary pods above the partition run the new template', set('engine:2', 1), [pod('s-0', 'engine:1'), pod('s-1', 'engine:2')], 'AllPodsReady'],
    ['every pod runs the template', set('engine:2'), [pod('s-0', 'engine:2'), pod('s-1', 'engine:2')], 'AllPodsReady'],
  ])('is Ready only once every pod runs the template: %s', (_name, statefulSet, pods, reason) => {
    const s = calculateStatus(withStream({ statefulSet, pods }), NOW);
    expect(cond(s, 'Ready')?.reason).toBe(reason);
  });
});
