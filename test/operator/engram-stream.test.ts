// The operator on the real control plane: the CRD refuses bad input by field; an EngramStream
// becomes owned objects and engine pods that report Ready; live changes reach running engines while
// a client streams (same pods, nothing lost); the vector shape cannot change; a rebuild-class
// change is Ready only once served; spec.rollout is flagged; an invalid spec turns Degraded; a restart-class
// change rolls the pod; the scale subresource works; a killed operator's successor converges and
// only one of two replicas leads; an API server outage is ridden out; deleting the stream removes
// everything it owned.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngramClient } from '../../engine/dist/client/engram-client.js';
import { expectStored } from '../helpers/durability.js';
import { clusteredObservations, metricValue } from '../helpers/vectors.js';
import { eventually, REPO_ROOT, startOperatorCluster, type OperatorCluster, type OperatorProcess } from './operator-harness.js';

interface Condition { type: string; status: string; reason: string; message: string }
interface Stream {
  metadata: { name: string; uid: string; generation: number };
  spec: Record<string, unknown>;
  status?: { phase?: string; desiredConfigHash?: string; observedGeneration?: number; conditions?: Condition[]; pods?: Array<{ name: string; uid: string; configHash: string }> };
}
interface Pod { metadata: { name: string; uid: string; labels?: Record<string, string> }; spec: { containers: Array<{ image: string }> }; status: { podIP?: string; containerStatuses?: Array<{ restartCount: number }> } }

const DIM = 768;

describe('EngramStream operator', () => {
  let oc: OperatorCluster;
  let operator: OperatorProcess;
  const clients: EngramClient[] = [];
  /** What the live-change test streamed, checked again after the pod rolls and scales. */
  let streamed: ReturnType<typeof clusteredObservations> = [];

  const kubectl = (...args: string[]) => oc.kubectl(args);
  const apply = (object: unknown) => oc.kubectl(['apply', '-f', '-'], JSON.stringify(object));
  const getJson = async <T>(...args: string[]): Promise<T> => JSON.parse(await oc.kubectl(['get', ...args, '-o', 'json'])) as T;
  const stream = (name: string) => getJson<Stream>('engramstream', name);
  const condition = (s: Stream, type: string) => s.status?.conditions?.find((c) => c.type === type);
  const pod = (name: string) => getJson<Pod>('pod', name);
  /** A client of one engine pod, with its stream's admin key (API keys are on by default). */
  const engineAt = async (p: Pod): Promise<EngramClient> => {
    const client = new EngramClient(`${p.status.podIP}:50051`, { apiKey: await oc.adminKey(p.metadata.labels!['engram.io/stream']!) });
    clients.push(client);
    return client;
  };
  const manifest = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'engram.io/v1alpha1', kind: 'EngramStream', metadata: { name, namespace: 'default' }, spec });
  const patch = (name: string, body: unknown) => kubectl('patch', 'engramstream', name, '--type', 'merge', '-p', JSON.stringify(body));
  /** The stream once Ready for its current generation, with every pod reporting the desired hash. */
  const converged = (name: string, timeoutMs = 90_000) => eventually(`${name} to be Ready with its config applied`, async () => {
    const s = await stream(name);
    const ready = condition(s, 'Ready')?.status === 'True' && condition(s, 'ConfigApplied')?.status === 'True';
    return ready && s.status?.observedGeneration === s.metadata.generation ? s : undefined;
  }, timeoutMs);

  beforeAll(async () => {
    oc = await startOperatorCluster();
    operator = await oc.startOperator('op-a');
  }, 180_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await oc?.stop();
  });

  it('refuses invalid EngramStreams with a message that names the field', async () => {
    const cases: Array<[string, Record<string, unknown>, string[]]> = [
      ['more replicas than the ring takes', { replicas: 65 }, ['spec.replicas', 'should be less than or equal to 64']],
      ['batch min above max', { batch: { min: 600, max: 500 } }, ['spec.batch', 'batch.min must not exceed batch.max']],
      ['a recall share out of range', { queue: { highPriorityRatio: 0.9 } }, ['spec.queue.highPriorityRatio', 'should be less than or equal to 0.5']],
      ['an unknown profile', { profile: 'Fast' }, ['spec.profile', 'must be one of LowLatency, HighThroughput, Balanced, MemoryConstrained, MultiTenant']],
      ['duplicate tenant names', { tenants: [{ name: 'acme' }, { name: 'acme' }] }, ['spec.tenants', 'tenant names must be unique']],
      ['a tenant name that is not a DNS label', { tenants: [{ name: 'Acme' }] }, ['spec.tenants[0].name', 'should match']],
      ['zero workers', { workers: 0 }, ['spec.workers', 'should be greater than or equal to 1']],
      ['an unknown metric', { hnsw: { metric: 'hamming' } }, ['spec.hnsw.metric', 'must be one of cosine, l2, ip']],
      ['f16 without usearch', { hnsw: { quantization: 'f16' } }, ['spec.hnsw', 'hnsw.quantization other than f32 needs hnsw.backend usearch']],
      ['a misspelt field', { wrokers: 4 }, ['unknown field "spec.wrokers"']],
    ];
    for (const [what, spec, expected] of cases) {
      const refused = await apply(manifest('invalid', spec)).then(() => '', (e: Error) => e.message);
      for (const text of expected) expect(refused, what).toContain(text);
      // one problem, one line: no "some validation rules were not checked" beside it
      if (what === 'an unknown profile' || what === 'an unknown metric') expect(refused, what).not.toContain('some validation rules were not checked');
    }
    expect(await kubectl('get', 'engramstreams', '-o', 'name')).toBe('');
  });

  it('reconciles an EngramStream into owned objects and a running engine, and reports Ready', async () => {
    // A ServiceMonitor CRD, as the Prometheus Operator installs it: the operator creates one when it exists.
    writeFileSync(join(oc.dir, 'servicemonitor-crd.yaml'), JSON.stringify({
      apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'servicemonitors.monitoring.coreos.com' },
      spec: {
        group: 'monitoring.coreos.com', scope: 'Namespaced', names: { plural: 'servicemonitors', singular: 'servicemonitor', kind: 'ServiceMonitor' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
      },
    }));
    await kubectl('apply', '-f', join(oc.dir, 'servicemonitor-crd.yaml'));
    await oc.cluster.waitEstablished('servicemonitors.monitoring.coreos.com');


    await kubectl('apply', '-f', join(REPO_ROOT, 'examples', 'engramstream.yaml')); // workers 2, tenant acme at 5,000/s, 1Gi
    const s = await converged('memory');
    expect(s.status?.phase).toBe('Running');
    for (const [kind, name] of [['configmap', 'memory-config'], ['service', 'memory'], ['service', 'memory-headless'], ['statefulset', 'memory'],
      ['poddisruptionbudget', 'memory'], ['servicemonitor', 'memory']] as const) {
      const owned = await getJson<{ metadata: { ownerReferences?: Array<{ kind: string; uid: string; controller: boolean }> } }>(kind, name);
      expect(owned.metadata.ownerReferences, `${kind}/${name}`).toEqual([expect.objectContaining({ kind: 'EngramStream', uid: s.metadata.uid, controller: true })]);
    }
    const claim = await getJson<{ status: { phase: string }; spec: { resources: { requests: { storage: string } } } }>('pvc', 'data-memory-0');
    expect(claim.status.phase).toBe('Bound');
    expect(claim.spec.resources.requests.storage).toBe('1Gi');

    // The hash in status is what the engine itself reports.
    const p = await pod('memory-0');
    const view = await (await engineAt(p)).getConfig();
    expect(view.config).toMatchObject({ workers: 2, profile: 'balanced', tenants: [expect.objectContaining({ name: 'acme', rateLimit: 5000 })] });
    expect(s.status?.pods).toEqual([expect.objectContaining({ name: 'memory-0', uid: p.metadata.uid, configHash: view.hash })]);
    expect(s.status?.desiredConfigHash).toBe(view.hash);

    const table = await kubectl('get', 'engramstreams');
    expect(table.split('\n')[0]).toMatch(/^NAME\s+PROFILE\s+WORKERS\s+READY\s+CONFIG-APPLIED\s+PHASE\s+AGE$/);
    expect(table.split('\n')[1]).toMatch(/^memory\s+Balanced\s+2\s+1\/1\s+True\s+Running\s+\d+s$/);
    expect(await kubectl('explain', 'engramstreams.spec.queue.highPriorityRatio')).toContain('Share of capacity reserved for the recall lane');
  });

  it('changes live fields while a client streams: the engine reports the new config, the pod is the same, nothing is lost', async () => {
    const before = await stream('memory');
    const p = await pod('memory-0');
    const client = await engineAt(p);
    streamed = clusteredObservations('acme-live', 4000, DIM, 7);
    const session = await client.openStream({ memorySpace: 'acme-live', tenant: 'acme', maxBatch: 100 });
    let patched = false;
    for (const [i, o] of streamed.entries()) {
      await session.send(o);
      if (i === 1000) {
        await patch('memory', {
          spec: { workers: 3, batch: { min: 20, max: 300 }, queue: { capacity: 20000 }, hnsw: { efSearch: 96 }, tenants: [{ name: 'acme', spaces: ['acme-*'], rateLimit: 8000 }] },
        });
        patched = true;
      }
    }
    expect(patched).toBe(true);
    const counts = await session.close({ drain: true });
    expect(counts.accepted).toBe(streamed.length);

    const after = await converged('memory');
    expect(after.status?.desiredConfigHash).not.toBe(before.status?.desiredConfigHash);
    const view = await client.getConfig();
    expect(view.hash).toBe(after.status?.desiredConfigHash);
    expect(view.config).toMatchObject({ workers: 3, batch: { min: 20, max: 300 }, queue: { capacity: 20000 }, hnsw: { efSearch: 96 }, tenants: [expect.objectContaining({ rateLimit: 8000 })] });
    const samePod = await pod('memory-0');
    expect(samePod.metadata.uid).toBe(p.metadata.uid);
    expect(samePod.status.containerStatuses?.[0]?.restartCount).toBe(0);
    await expectStored(client, 'acme-live', streamed);
    // The pod's starting config follows, so a restart comes back with it.
    const configMap = await getJson<{ metadata: { annotations: Record<string, string> } }>('configmap', 'memory-config');
    expect(configMap.metadata.annotations['engram.io/config-hash']).toBe(view.hash);
  });

  it('refuses a new hnsw.dimension or metric, also in two steps (null, then a new value)', async () => {
    await apply(manifest('shape', { hnsw: { dimension: 64, metric: 'l2' } }));
    const refusals: Array<[Record<string, unknown>, string]> = [
      [{ dimension: 128 }, 'hnsw.dimension is immutable'],
      [{ dimension: null }, 'hnsw.dimension is immutable'], // the first step of the bypass: the default (768) is not 64
      [{ metric: 'cosine' }, 'hnsw.metric is immutable'],
      [{ metric: null }, 'hnsw.metric is immutable'],
    ];
    for (const [hnsw, message] of refusals) {
      const refused = await patch('shape', { spec: { hnsw } }).then(() => '', (e: Error) => e.message);
      expect(refused, JSON.stringify(hnsw)).toContain(message);
      expect(refused).not.toContain('some validation rules were not checked');
    }
    expect((await stream('shape')).spec).toMatchObject({ hnsw: { dimension: 64, metric: 'l2' } });
    await kubectl('delete', 'engramstream', 'shape', '--wait=true');
  });

  it('says Ready and ConfigApplied only once a rebuild-class change is served: IndexRebuilding with per-pod progress until then', async () => {
    const client = await engineAt(await pod('memory-0'));
    await patch('memory', { spec: { hnsw: { m: 24 } } }); // rebuilds acme-live's 4,000 vectors in the background
    const rebuilding = await eventually('ConfigApplied=False IndexRebuilding', async () => {
      const s = await stream('memory');
      return condition(s, 'ConfigApplied')?.reason === 'IndexRebuilding' ? s : undefined;
    }, 30_000);
    expect(condition(rebuilding, 'ConfigApplied')).toMatchObject({ status: 'False' });
    expect(condition(rebuilding, 'Ready')).toMatchObject({ status: 'False', reason: 'IndexRebuilding' });
    expect(condition(rebuilding, 'ConfigApplied')?.message).toMatch(/rebuilds its indexes in the background: \d+ of \d+ memory spaces left/);
    const podStatus = (rebuilding.status as { pods?: Array<{ indexRebuild?: { spacesPending: number } }> }).pods?.[0];
    expect(podStatus?.indexRebuild?.spacesPending).toBeGreaterThan(0);
    const served = await converged('memory', 180_000);
    expect((await client.getConfig()).indexRebuild.spacesPending).toBe(0);
    expect((served.status as { pods?: Array<{ indexRebuild?: unknown }> }).pods?.[0]?.indexRebuild).toBeUndefined();
    await expectStored(client, 'acme-live', streamed);
  });

  it('moves every index onto usearch f16 when the CR asks, in the background, while a client streams and recalls: nothing acknowledged is lost', async () => {
    const client = await engineAt(await pod('memory-0'));
    const more = clusteredObservations('acme-backend', 3000, DIM, 11);
    const session = await client.openStream({ memorySpace: 'acme-backend', tenant: 'acme', maxBatch: 100 });
    let recalls = 0;
    let recallErrors = 0;
    let recalling = true;
    const recaller = (async () => {
      for (; recalling; recalls++) {
        const res = await client.recall({ memorySpace: 'acme-live', vector: streamed[recalls % streamed.length]!.embedding, k: 5 }).catch(() => null);
        if (res?.hits.length !== 5) recallErrors++;
      }
    })();
    for (const [i, o] of more.entries()) {
      await session.send(o);
      if (i === 500) await patch('memory', { spec: { hnsw: { backend: 'usearch', quantization: 'f16' } } });
    }
    expect((await session.close({ drain: true })).accepted).toBe(more.length);
    await converged('memory', 180_000);
    recalling = false;
    await recaller;
    const view = await client.getConfig();
    expect(view.config.hnsw).toMatchObject({ backend: 'usearch', quantization: 'f16' });
    expect(view.indexRebuild.spacesPending).toBe(0);
    expect(recalls).toBeGreaterThan(50);
    expect(recallErrors).toBe(0);
    await expectStored(client, 'acme-live', streamed);
    await expectStored(client, 'acme-backend', more);
  });

  it('refuses a rollout policy it could not follow, naming the rule', async () => {
    const template = { name: 'quality', metric: 'recallAtK', minDifference: -0.02 };
    const refusals: Array<[Record<string, unknown>, string]> = [
      [{ steps: [{ setWeight: 5, pause: {} }] }, 'a step has exactly one of setWeight, pause, analysis'],
      [{ steps: [{ setWeight: 105 }] }, 'should be less than or equal to 100'],
      [{ steps: [{ analysis: { templates: ['latency'] } }], analysisTemplates: [template] }, 'every analysis step must name templates listed in analysisTemplates'],
      [{ steps: [{ setWeight: 5 }], analysisTemplates: [{ name: 'q', metric: 'recallAtK' }] }, 'needs at least one of maxRatio'],
      [{ steps: [{ setWeight: 5 }], analysisTemplates: [{ ...template, metric: 'recall' }] }, 'must be one of observationLatencyP99'],
      [{ steps: [{ pause: { duration: 'soon' } }] }, 'spec.rollout.steps[0].pause.duration'],
      [{ steps: [] }, 'spec.rollout.steps'],
      [{ steps: [{ setWeight: 5 }], analysisTemplates: [template] }, 'an analysis of recallAtK needs quality.sampleRate above 0'],
    ];
    for (const [rollout, message] of refusals) {
      const refused = await patch('memory', { spec: { rollout } }).then(() => '', (e: Error) => e.message);
      expect(refused, JSON.stringify(rollout)).toContain(message);
    }
    expect((await stream('memory')).spec.rollout).toBeUndefined();
  });

  it('never pushes a spec the engine\'s validation refuses: Degraded InvalidConfig, the engine keeps its config', async () => {
    const good = await converged('memory');
    const client = await engineAt(await pod('memory-0'));
    await patch('memory', { spec: { batch: { min: null, max: 5 } } }); // below the profile's batch.min (the spec set min 20 earlier)
    const invalid = await eventually('Degraded InvalidConfig', async () => {
      const s = await stream('memory');
      return condition(s, 'Degraded')?.reason === 'InvalidConfig' ? s : undefined;
    });
    expect(condition(invalid, 'Degraded')?.message).toContain("'batch.min' (10) must not exceed 'batch.max' (5)");
    expect(invalid.status?.phase).toBe('Degraded');
    expect((await client.getConfig()).hash).toBe(good.status?.desiredConfigHash);
    const configMap = await getJson<{ metadata: { annotations: Record<string, string> } }>('configmap', 'memory-config');
    expect(configMap.metadata.annotations['engram.io/config-hash']).toBe(good.status?.desiredConfigHash);
    const events = await kubectl('get', 'events', '--field-selector', 'involvedObject.name=memory,reason=InvalidConfig', '-o', 'jsonpath={.items[*].type}');
    expect(events).toContain('Warning');
    await patch('memory', { spec: { batch: { min: 20, max: 300 } } });
    expect((await converged('memory')).status?.desiredConfigHash).toBe(good.status?.desiredConfigHash);
  });

  it('rolls the pod for a restart-class change, and the engine comes back with its data', async () => {
    const old = await pod('memory-0');
    await patch('memory', { spec: { image: 'engram.io/engine:0.1.1' } });
    const rolled = await eventually('a new pod with the new image', async () => {
      const p = await pod('memory-0').catch(() => undefined);
      return p && p.metadata.uid !== old.metadata.uid && p.spec.containers[0]?.image === 'engram.io/engine:0.1.1' ? p : undefined;
    });
    await converged('memory');
    await expectStored(await engineAt(await pod('memory-0')), 'acme-live', streamed);
    expect(rolled.metadata.name).toBe('memory-0');
  });

  it('scales through the scale subresource: 1 → 0 → 1 keeps the data', async () => {
    await kubectl('scale', 'engramstream/memory', '--replicas=0');
    const stopped = await eventually('Stopped with no pods', async () => {
      const s = await stream('memory');
      const pods = await kubectl('get', 'pods', '-l', 'engram.io/stream=memory', '-o', 'name');
      return s.status?.phase === 'Stopped' && pods.trim() === '' ? s : undefined;
    });
    expect(condition(stopped, 'Ready')).toMatchObject({ status: 'False', reason: 'ScaledToZero' });
    expect((await getJson<{ status: { phase: string } }>('pvc', 'data-memory-0')).status.phase).toBe('Bound');

    await kubectl('scale', 'engramstream/memory', '--replicas=1');
    await converged('memory');
    await expectStored(await engineAt(await pod('memory-0')), 'acme-live', streamed);
    const scale = JSON.parse(await kubectl('get', '--raw', '/apis/engram.io/v1alpha1/namespaces/default/engramstreams/memory/scale')) as { spec: { replicas: number }; status: { replicas: number; selector: string } };
    expect(scale).toMatchObject({ spec: { replicas: 1 }, status: { replicas: 1, selector: expect.stringContaining('engram.io/stream=memory') } });
  });

  it('converges after the operator is killed mid-reconcile; of two replicas one leads, and the other takes over on a graceful stop', async () => {
    const reconciles = metricValue(await operator.metrics(), 'controller_runtime_reconcile_total', { controller: 'engramstream', result: 'requeue_after' });
    expect(reconciles).toBeGreaterThan(0);
    expect(metricValue(await operator.metrics(), 'workqueue_adds_total', { name: 'engramstream' })).toBeGreaterThan(0);

    await apply(manifest('second', { profile: 'MemoryConstrained', hnsw: { dimension: 64 } }));
    await eventually('the reconcile to be under way', async () => ((await kubectl('get', 'configmap', '-o', 'name')).includes('second-config') ? true : undefined), 30_000);
    await operator.kill();

    const b = await oc.startOperator('op-b');
    const c = await oc.startOperator('op-c');
    const s = await converged('second');
    expect(s.status?.phase).toBe('Running');
    const lease = await getJson<{ spec: { holderIdentity: string } }>('lease', 'engram-operator');
    const [leader, standby] = lease.spec.holderIdentity === 'op-b' ? [b, c] : [c, b];
    expect(['op-b', 'op-c']).toContain(lease.spec.holderIdentity);
    expect(metricValue(await leader.metrics(), 'leader_election_master_status', { name: 'engram-operator' })).toBe(1);
    expect(metricValue(await standby.metrics(), 'leader_election_master_status', { name: 'engram-operator' })).toBe(0);
    expect(metricValue(await standby.metrics(), 'controller_runtime_reconcile_total', { controller: 'engramstream' })).toBeUndefined();
    expect((await fetch(`http://127.0.0.1:${standby.port}/readyz`)).status).toBe(200);

    // A graceful stop releases the lease: the standby takes over and reconciles the next change.
    expect(await leader.stop()).toBe(0);
    const before = await pod('second-0');
    await patch('second', { spec: { hnsw: { efSearch: 40, m: 12 } } }); // a live and a rebuild-class change
    const changed = await converged('second', 30_000);
    expect((await getJson<{ spec: { holderIdentity: string } }>('lease', 'engram-operator')).spec.holderIdentity).toBe(standby.identity);
    expect((await (await engineAt(await pod('second-0'))).getConfig()).config).toMatchObject({ hnsw: { efSearch: 40, m: 12, dimension: 64 } });
    expect((await pod('second-0')).metadata.uid).toBe(before.metadata.uid);
    expect(changed.status?.pods?.[0]?.configHash).toBe(changed.status?.desiredConfigHash);
    operator = standby;
  });

  it('rides out an API server outage: its watches come back by themselves', async () => {
    // A lease that outlasts the outage, so the leader keeps leading instead of exiting to restart.
    expect(await operator.stop()).toBe(0);
    operator = await oc.startOperator('op-d', ['--lease-duration-ms', '30000', '--renew-deadline-ms', '20000', '--retry-period-ms', '1000']);
    await eventually('op-d to lead', async () => ((await getJson<{ spec: { holderIdentity: string } }>('lease', 'engram-operator')).spec.holderIdentity === 'op-d' ? true : undefined), 30_000);

    await oc.cluster.restartApiServer(5000);
    await patch('second', { spec: { workers: 3 } });
    const s = await converged('second', 60_000); // needs the informer's cache to hold the new generation
    expect((await (await engineAt(await pod('second-0'))).getConfig()).config).toMatchObject({ workers: 3 });
    expect(s.status?.pods?.[0]?.configHash).toBe(s.status?.desiredConfigHash);
    expect(operator.process.exitCode).toBeNull();
    expect(metricValue(await operator.metrics(), 'leader_election_master_status', { name: 'engram-operator' })).toBe(1);
  }, 120_000);

  it('deletes everything a stream owned when the stream is deleted', async () => {
    await kubectl('delete', 'engramstream', 'memory', 'second', '--wait=true');
    await eventually('owned objects to be gone', async () => {
      const left = await kubectl('get', 'statefulsets,services,configmaps,poddisruptionbudgets,servicemonitors,pods,pvc', '-l', 'app.kubernetes.io/managed-by=engram-operator', '-o', 'name');
      const claims = await kubectl('get', 'pvc', '-o', 'name');
      return left.trim() === '' && claims.trim() === '' ? true : undefined;
    }, 120_000);
    await eventually('volumes to be released and deleted', async () => ((await kubectl('get', 'pv', '-o', 'name')).trim() === '' ? true : undefined), 60_000);
  });
});
