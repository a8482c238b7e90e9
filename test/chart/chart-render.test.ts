// The chart without a cluster: `helm lint --strict`, the schema refusing unknown values, and
// `helm template` with every file in the chart's ci/ directory, checked object by object.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../operator/operator-harness.js';
import { CHART, helm, helmPath, KUBE_VERSION, parseManifests, type Helm, type K8sObject } from './helm.js';

const CI_VALUES = readdirSync(join(CHART, 'ci')).filter((f) => f.endsWith('.yaml')).sort();
type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };

describe('the engram-operator chart', () => {
  let h: Helm;
  beforeAll(() => {
    h = helm(helmPath());
  }, 15 * 60_000);

  const render = async (values: string, ...extra: string[]) =>
    parseManifests(await h(['template', 'engram-operator', CHART, '--namespace', 'engram-system', '--kube-version', KUBE_VERSION, '-f', join(CHART, 'ci', values), ...extra]));
  const only = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);

  it('passes helm lint --strict with each ci/ values file', async () => {
    expect(CI_VALUES).toEqual(['default-values.yaml', 'monitoring-values.yaml', 'namespaced-values.yaml']);
    for (const values of CI_VALUES) expect(await h(['lint', '--strict', CHART, '-f', join(CHART, 'ci', values)])).toContain('0 chart(s) failed');
  });

  it('refuses unknown and mistyped values (values.schema.json) and replicas without leader election', async () => {
    await expect(h(['lint', '--strict', CHART, '--set', 'replicas=2'])).rejects.toThrow(/additional properties 'replicas' not allowed/);
    await expect(h(['template', 'x', CHART, '--kube-version', KUBE_VERSION, '--set', 'serviceMonitor.enabeld=true'])).rejects.toThrow(/additional properties 'enabeld' not allowed/);
    await expect(h(['template', 'x', CHART, '--kube-version', KUBE_VERSION, '--set', 'concurrency=zero'])).rejects.toThrow(/concurrency/);
    await expect(h(['template', 'x', CHART, '--kube-version', KUBE_VERSION, '--set', 'replicaCount=2', '--set', 'leaderElection.enabled=false']))
      .rejects.toThrow(/replicaCount above 1 needs leaderElection.enabled/);
  });

  it('labels every object with app.kubernetes.io/* and runs the operator unprivileged on a read-only root', async () => {
    for (const values of CI_VALUES) {
      for (const o of await render(values)) {
        // the hooks' pods and RBAC are named apart, so the operator's selector never matches them
        const name = o.metadata.labels?.['app.kubernetes.io/component'] === 'helm-hook' ? 'engram-operator-hooks' : 'engram-operator';
        expect(o.metadata.labels?.['app.kubernetes.io/name'], `${values} ${o.kind}/${o.metadata.name}`).toBe(name);
        expect(o.metadata.labels?.['app.kubernetes.io/instance']).toBe('engram-operator');
        expect(o.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('Helm');
        expect(o.metadata.labels?.['app.kubernetes.io/version']).toBe('0.1.0');
      }
    }
    const [deployment] = only(await render('default-values.yaml'), 'Deployment') as Array<K8sObject & { spec: { template: { spec: { securityContext: Record<string, unknown>; containers: Array<{ securityContext: Record<string, unknown>; args: string[]; image: string }> } } } }>;
    const pod = deployment!.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
    expect(pod.containers[0]!.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(pod.containers[0]!.image).toBe('engram.io/operator:0.1.0');
    expect(pod.containers[0]!.args).toContain('--engine-image=engram.io/engine:0.1.0');
  });

  it('grants least privilege: no wildcards, secrets never listed, watched or deleted, nothing cluster-admin; the operator deletes only pods and its NetworkPolicies, the hooks only their own objects', async () => {
    for (const values of CI_VALUES) {
      const objects = await render(values);
      const roles = [...only(objects, 'ClusterRole'), ...only(objects, 'Role')] as unknown as Array<K8sObject & { rules: Rule[] }>;
      expect(roles.length).toBeGreaterThan(0);
      for (const role of roles) {
        const hook = role.metadata.labels?.['app.kubernetes.io/component'] === 'helm-hook';
        for (const rule of role.rules) {
          expect([...rule.verbs, ...rule.resources, ...rule.apiGroups]).not.toContain('*');
          // Secrets by name only: the operator reads those a stream names and writes its own; a
          // hook reads its scratch stream's admin key. Nothing enumerates them.
          if (rule.resources.includes('secrets')) {
            expect(rule.resources, JSON.stringify(rule)).toEqual(['secrets']);
            expect(rule.verbs, JSON.stringify(rule)).toEqual(hook ? ['get'] : ['get', 'create', 'patch']);
          }
          if (!rule.verbs.includes('delete')) continue;
          // the operator deletes pods (a canary pod stuck on a reverted revision, kubernetes#67250)
          // and the NetworkPolicy of a stream that no longer wants one
          if (!hook) {
            expect([['pods'], ['networkpolicies']], `${values} ${role.metadata.name} deletes`).toContainEqual(rule.resources);
            continue;
          }
          // helm test deletes the scratch EngramStream it made; the pre-delete hook the operator's own Lease by name
          const scratch = rule.resources.join() === 'engramstreams';
          const lease = rule.resources.join() === 'leases' && rule.resourceNames?.join() === 'engram-operator';
          expect(scratch || lease, `${role.metadata.name}: ${JSON.stringify(rule)}`).toBe(true);
        }
      }
      for (const binding of [...only(objects, 'ClusterRoleBinding'), ...only(objects, 'RoleBinding')]) {
        expect((binding as unknown as { roleRef: { name: string } }).roleRef.name).not.toBe('cluster-admin');
      }
    }
    // the only cluster-scoped read outside the operator's own kinds is one named CRD
    const crdRule = (only(await render('default-values.yaml'), 'ClusterRole') as unknown as Array<{ rules: Rule[] }>).flatMap((r) => r.rules).find((r) => r.resources.includes('customresourcedefinitions'));
    expect(crdRule).toEqual({ apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], resourceNames: ['servicemonitors.monitoring.coreos.com'], verbs: ['get'] });
  });

  it('installs the CRD as a template kept on uninstall, equal to crds/ apart from Helm\'s labels', async () => {
    const [crd] = only(await render('default-values.yaml'), 'CustomResourceDefinition');
    expect(crd!.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
    const file = yaml.load(readFileSync(join(REPO_ROOT, 'crds', 'engram.io_engramstreams.yaml'), 'utf8')) as K8sObject;
    expect({ ...crd, metadata: { name: crd!.metadata.name } }).toEqual({ ...file, metadata: { name: file.metadata.name } });
  });

  it('with monitoring on: a ServiceMonitor keeping the operator\'s labels, the alert rules as a PrometheusRule, the dashboards as labelled ConfigMaps', async () => {
    const objects = await render('monitoring-values.yaml');
    const [monitor] = only(objects, 'ServiceMonitor') as unknown as Array<{ spec: { endpoints: Array<{ honorLabels: boolean; port: string }> } }>;
    expect(monitor!.spec.endpoints[0]).toMatchObject({ port: 'metrics', honorLabels: true });
    const [rule] = only(objects, 'PrometheusRule') as unknown as Array<{ spec: { groups: unknown } }>;
    const rulesFile = yaml.load(readFileSync(join(CHART, 'files', 'alerts', 'engram-stream.rules.yaml'), 'utf8')) as { groups: unknown };
    expect(rule!.spec.groups).toEqual(rulesFile.groups);
    const dashboards = only(objects, 'ConfigMap') as unknown as Array<{ metadata: K8sObject['metadata']; data: Record<string, string> }>;
    expect(dashboards.map((d) => Object.keys(d.data)[0]).sort()).toEqual(['engram-operator.json', 'engram-streaming.json', 'engram-tenants.json']);
    for (const d of dashboards) {
      expect(d.metadata.labels?.grafana_dashboard).toBe('1');
      expect(d.metadata.namespace).toBe('monitoring');
      const [file, json] = Object.entries(d.data)[0]!;
      expect(JSON.parse(json)).toEqual(JSON.parse(readFileSync(join(CHART, 'files', 'dashboards', file), 'utf8')));
    }
    expect(only(await render('default-values.yaml'), 'ServiceMonitor')).toEqual([]);
  });

  it('watching one namespace: namespaced Roles there, two replicas, no CRD, an existing service account', async () => {
    const objects = await render('namespaced-values.yaml');
    const roles = only(objects, 'Role').filter((r) => r.metadata.labels?.['app.kubernetes.io/component'] !== 'helm-hook');
    expect(roles.map((r) => r.metadata.namespace).sort()).toEqual(['engram', 'engram-system']);
    // helm test makes its scratch EngramStream where the operator watches
    expect(only(objects, 'Role').find((r) => r.metadata.name === 'engram-operator-test')?.metadata.namespace).toBe('engram');
    expect(only(objects, 'ClusterRole').map((r) => r.metadata.name)).toEqual(['engram-operator-crd-check']);
    expect(only(objects, 'CustomResourceDefinition')).toEqual([]);
    expect(only(objects, 'ServiceAccount').map((a) => a.metadata.name)).toEqual(['engram-operator-hooks']);
    const [deployment] = only(objects, 'Deployment') as unknown as Array<{ spec: { replicas: number; template: { spec: { serviceAccountName: string; containers: Array<{ args: string[] }> } } } }>;
    expect(deployment!.spec.replicas).toBe(2);
    expect(deployment!.spec.template.spec.serviceAccountName).toBe('engram-operator');
    expect(deployment!.spec.template.spec.containers[0]!.args).toContain('--namespace=engram');
  });

  it('ships the repository\'s example EngramStream', () => {
    expect(readFileSync(join(CHART, 'examples', 'engramstream.yaml'), 'utf8')).toBe(readFileSync(join(REPO_ROOT, 'examples', 'engramstream.yaml'), 'utf8'));
  });
});
