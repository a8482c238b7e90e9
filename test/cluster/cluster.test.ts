// The test cluster itself: a real control plane (built from pinned upstream modules) plus the node
// agent. A CRD installs and validates; a Deployment becomes a ReplicaSet and a pod through the real
// controller manager and scheduler; the agent runs the pod as a process, readiness flips to true
// from its readiness probe, and deleting the Deployment stops the process.
import { fileURLToPath } from 'node:url';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { eventually } from '../helpers/eventually.js';
import { localImages, NodeAgent } from './node-agent.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NS = 'default';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('test cluster', () => {
  let cluster: ControlPlane;
  let agent: NodeAgent;
  const kc = new k8s.KubeConfig();

  beforeAll(async () => {
    cluster = await startControlPlane();
    console.log('control plane versions:', JSON.stringify(cluster.versions));
    kc.loadFromFile(cluster.kubeconfig);
    agent = new NodeAgent({
      kubeconfig: cluster.kubeconfig, nodeName: 'engram-node-0', rootDir: mkdtempSync(join(tmpdir(), 'engram-node-')),
      images: localImages(REPO_ROOT),
    });
    await agent.start();
  }, 180_000);

  afterAll(async () => {
    await agent?.stop();
    await cluster?.stop();
  });

  it('reports the real version of every component', () => {
    expect(cluster.versions['kube-apiserver']).toBe('Kubernetes v1.36.3');
    expect(cluster.versions['kube-controller-manager']).toBe('Kubernetes v1.36.3');
    expect(cluster.versions['kube-scheduler']).toBe('Kubernetes v1.36.3');
    expect(cluster.versions.etcd).toBe('etcd Version: 3.6.16');
  });

  it('installs a CRD, serves its objects and refuses an invalid one with the server\'s own message', async () => {
    const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
    await ext.createCustomResourceDefinition({
      body: {
        metadata: { name: 'widgets.test.engram.io' },
        spec: {
          group: 'test.engram.io', scope: 'Namespaced', names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
          versions: [{
            name: 'v1', served: true, storage: true,
            schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', required: ['size'], properties: { size: { type: 'integer', minimum: 1, maximum: 10 } } } } } },
          }],
        },
      },
    });
    await eventually('the CRD to be established', async () => {
      const crd = await ext.readCustomResourceDefinition({ name: 'widgets.test.engram.io' });
      return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined;
    });
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const object = (size: unknown) => ({ apiVersion: 'test.engram.io/v1', kind: 'Widget', metadata: { name: `w-${String(size)}` }, spec: { size } });
    await eventually('a widget to be created', () => custom.createNamespacedCustomObject({ group: 'test.engram.io', version: 'v1', namespace: NS, plural: 'widgets', body: object(3) }));
    const got = await custom.getNamespacedCustomObject({ group: 'test.engram.io', version: 'v1', namespace: NS, plural: 'widgets', name: 'w-3' }) as { spec: { size: number } };
    expect(got.spec.size).toBe(3);
    const refused = await custom.createNamespacedCustomObject({ group: 'test.engram.io', version: 'v1', namespace: NS, plural: 'widgets', body: object(42) }).catch((e: unknown) => e);
    expect((refused as { code: number }).code).toBe(422);
    expect(String((refused as { body: string }).body)).toContain('spec.size: Invalid value: 42: spec.size in body should be less than or equal to 10');
  });

  it('refuses an invalid Deployment with the server\'s own message', async () => {
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const refused = await apps.createNamespacedDeployment({
      namespace: NS,
      body: { metadata: { name: 'broken' }, spec: { replicas: -1, selector: { matchLabels: { app: 'broken' } }, template: { metadata: { labels: { app: 'broken' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } } },
    }).catch((e: unknown) => e);
    expect((refused as { code: number }).code).toBe(422);
    expect(String((refused as { body: string }).body)).toContain('spec.replicas: Invalid value: -1: must be greater than or equal to 0');
  });

  it('runs a Deployment\'s pod as a process, flips it ready from its probe, and stops it on delete', async () => {
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await apps.createNamespacedDeployment({
      namespace: NS,
      body: {
        metadata: { name: 'hello' },
        spec: {
          replicas: 1, selector: { matchLabels: { app: 'hello' } },
          template: {
            metadata: { labels: { app: 'hello' } },
            spec: {
              terminationGracePeriodSeconds: 5,
              containers: [{
                name: 'web', image: 'engram.io/test/http-server:1',
                env: [{ name: 'PORT', value: '8080' }, { name: 'READY_AFTER_MS', value: '1500' }],
                ports: [{ name: 'http', containerPort: 8080 }],
                readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 1 },
              }],
            },
          },
        },
      },
    });
    const pod = await eventually('a pod to be scheduled and ready', async () => {
      const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=hello' });
      const p = pods.items[0];
      return p?.spec?.nodeName === 'engram-node-0' && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
    });
    expect(pod.metadata?.ownerReferences?.[0]?.kind).toBe('ReplicaSet');
    expect(pod.status?.podIP).toMatch(/^127\.0\.0\.\d+$/);
    expect(pod.status?.containerStatuses?.[0]).toMatchObject({ name: 'web', ready: true, restartCount: 0 });
    const body = await (await fetch(`http://${pod.status!.podIP}:8080/`)).text();
    expect(body).toBe(`hello from ${pod.metadata!.name} ()`);
    const pids = agent.pidsOf(NS, pod.metadata!.name!);
    expect(pids).toHaveLength(1);
    expect(alive(pids[0]!)).toBe(true);

    await apps.deleteNamespacedDeployment({ name: 'hello', namespace: NS, propagationPolicy: 'Foreground' });
    await eventually('the pod to be gone', async () => {
      const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=hello' });
      return pods.items.length === 0 ? true : undefined;
    });
    expect(alive(pids[0]!)).toBe(false);
  }, 120_000);

  it('mounts a ConfigMap as files, fills env from the downward API, and restarts a crashed container', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'settings' }, data: { 'engine.yaml': 'workers: 2\n' } } });
    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name: 'configured' },
        spec: {
          nodeName: 'engram-node-0', restartPolicy: 'Always',
          volumes: [{ name: 'config', configMap: { name: 'settings' } }],
          containers: [{
            name: 'web', image: 'engram.io/test/http-server:1',
            env: [{ name: 'PORT', value: '8081' }, { name: 'MY_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
            volumeMounts: [{ name: 'config', mountPath: '/etc/engram' }],
            readinessProbe: { httpGet: { path: '/ready', port: 8081 }, periodSeconds: 1 },
          }],
        },
      },
    });
    const ready = (restarts: number) => eventually(`the pod ready after ${restarts} restarts`, async () => {
      const p = await core.readNamespacedPod({ name: 'configured', namespace: NS });
      const c = p.status?.containerStatuses?.[0];
      return c?.ready && c.restartCount === restarts ? p : undefined;
    });
    const pod = await ready(0);
    const base = `http://${pod.status!.podIP}:8081`;
    expect(await (await fetch(`${base}/file?path=/etc/engram/engine.yaml`)).text()).toBe('workers: 2\n');
    expect(await (await fetch(`${base}/`)).text()).toBe(`hello from configured (${pod.status!.podIP})`);

    await fetch(`${base}/crash`);
    const restarted = await ready(1);
    expect(restarted.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode).toBe(3);
    expect(await (await fetch(`${base}/ready`)).text()).toBe('ready');
    await core.deleteNamespacedPod({ name: 'configured', namespace: NS });
    await eventually('the pod to be gone', async () => {
      const pods = await core.listNamespacedPod({ namespace: NS });
      return pods.items.some((p) => p.metadata?.name === 'configured') ? undefined : true;
    });
  });

  it('reports a container whose image has no local entry point as waiting, with the reason', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedPod({
      namespace: NS,
      body: { metadata: { name: 'unknown-image' }, spec: { nodeName: 'engram-node-0', containers: [{ name: 'c', image: 'example.com/nope:1' }] } },
    });
    const waiting = await eventually('a waiting reason', async () => {
      const p = await core.readNamespacedPod({ name: 'unknown-image', namespace: NS });
      return p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerError' ? p.status.containerStatuses[0]!.state!.waiting : undefined;
    });
    expect(waiting?.message).toBe('image example.com/nope:1 is not mapped to a local entry point');
    await core.deleteNamespacedPod({ name: 'unknown-image', namespace: NS });
  });
});
