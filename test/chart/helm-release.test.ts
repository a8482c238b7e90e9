// The chart as users run it: `helm install` into the test cluster (a real control plane with RBAC
// enforced; the operator's pod runs under the chart's service account with a real token; both
// namespaces enforce the restricted pod security standard), then `kubectl apply` of the example
// EngramStream, which the operator reconciles with API keys on, as by default. A real Prometheus
// scrapes the engine and the operator while a load runs, evaluates the alert rules, and answers
// every dashboard panel's query. Then `helm upgrade` and `helm uninstall` behave as the chart's
// README says.
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngramClient } from '../../engine/dist/client/engram-client.js';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.js';
import { localImages, NodeAgent } from '../cluster/node-agent.js';
import { eventually } from '../helpers/eventually.js';
import { clusteredObservations } from '../helpers/vectors.js';
import { alertRules, CHART_FILES, dashboards, panelQueries } from '../observability/metric-names.js';
import { startPrometheus, type PrometheusServer } from '../observability/prometheus.js';
import { REPO_ROOT } from '../operator/operator-harness.js';
import { CHART, helm, helmPath, type Helm } from './helm.js';
import { refusedPrivilegedPod } from '../helpers/pod-security.js';

interface Condition { type: string; status: string; reason: string; message: string }
interface Stream { metadata: { generation: number }; status?: { observedGeneration?: number; desiredConfigHash?: string; conditions?: Condition[] } }
interface Pod { metadata: { name: string; uid: string }; spec: { serviceAccountName?: string; containers: Array<{ args?: string[] }> }; status: { podIP?: string; phase?: string } }

const RELEASE = 'engram-operator';
const NS = 'engram-system';
const SA = `system:serviceaccount:${NS}:${RELEASE}`;
const DIM = 768;

describe('helm install of the engram-operator chart', () => {
  let cluster: ControlPlane;
  let agent: NodeAgent;
  let dir = '';
  let h: Helm;
  let prometheus: PrometheusServer | null = null;
  const clients: EngramClient[] = [];
  /** What `helm install` printed (its NOTES). */
  let installOutput = '';

  const kubectl = (...args: string[]) => cluster.kubectl(args);
  const getJson = async <T>(...args: string[]): Promise<T> => JSON.parse(await cluster.kubectl(['get', ...args, '-o', 'json'])) as T;
  /** A key from a Secret the operator made (`<stream>-admin-key`, `<stream>-metrics-key`). */
  const secretKey = async (name: string) => Buffer.from(await kubectl('get', 'secret', name, '-o', 'jsonpath={.data.key}'), 'base64').toString('utf8');
  const condition = (s: Stream, type: string) => s.status?.conditions?.find((c) => c.type === type);
  const converged = (name: string) => eventually(`${name} to be Ready with its config applied`, async () => {
    const s = await getJson<Stream>('engramstream', name);
    const ok = condition(s, 'Ready')?.status === 'True' && condition(s, 'ConfigApplied')?.status === 'True';
    return ok && s.status?.observedGeneration === s.metadata.generation ? s : undefined;
  });
  /** Everything the operator pods logged (the node agent keeps each container's log in the pod's directory). */
  const operatorLogs = () => readdirSync(join(dir, 'node')).filter((d) => d.startsWith(`${NS}_${RELEASE}-`))
    .map((d) => join(dir, 'node', d, 'logs', 'operator.log')).filter((f) => existsSync(f)).map((f) => readFileSync(f, 'utf8')).join('');
  const operatorPods = async () => (await getJson<{ items: Pod[] }>('pods', '-n', NS, '-l', `app.kubernetes.io/instance=${RELEASE}`)).items
    .filter((p) => p.status.phase === 'Running');

  beforeAll(async () => {
    const binary = helmPath();
    cluster = await startControlPlane();
    dir = mkdtempSync(join(tmpdir(), 'engram-chart-test-'));
    agent = new NodeAgent({ kubeconfig: cluster.kubeconfig, nodeName: 'engram-node-0', rootDir: join(dir, 'node'), images: localImages(REPO_ROOT) });
    await agent.start();
    h = helm(binary, cluster.kubeconfig);
  }, 15 * 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await prometheus?.stop();
    await agent?.stop();
    await cluster?.stop();
  });

  it('installs with one command; NOTES say what to run next; the operator runs under its own service account', async () => {
    // Both namespaces enforce the "restricted" pod security standard: the API server's admission
    // refuses any operator, hook or engine pod that does not meet it (checked to be on just below).
    await kubectl('create', 'namespace', NS);
    for (const ns of [NS, 'default']) await kubectl('label', 'namespace', ns, 'pod-security.kubernetes.io/enforce=restricted', '--overwrite');
    expect(await refusedPrivilegedPod(cluster, NS)).toMatch(/violates PodSecurity "restricted:latest"/);
    const out = await h(['install', RELEASE, CHART, '--namespace', NS, '--create-namespace', '--wait', '--timeout', '3m']);
    installOutput = out;
    expect(out).toContain('STATUS: deployed');
    expect(out).toContain(`kubectl -n ${NS} rollout status deployment/${RELEASE}`);
    await kubectl('-n', NS, 'rollout', 'status', `deployment/${RELEASE}`, '--timeout=60s');
    await cluster.waitEstablished('engramstreams.engram.io');
    const [pod] = await operatorPods();
    expect(pod!.spec.serviceAccountName).toBe(RELEASE);
    // what the chart's RBAC allows, asked of the API server as that account
    // kubectl auth can-i exits 0 for yes, 1 for no
    const can = (...args: string[]) => kubectl('auth', 'can-i', '--as', SA, ...args).then(() => 'yes', () => 'no');
    expect(await can('watch', 'engramstreams.engram.io', '--all-namespaces')).toBe('yes');
    expect(await can('patch', 'statefulsets.apps', '-n', 'default')).toBe('yes');
    expect(await can('patch', 'engramstreams.engram.io', '--subresource=status', '-n', 'default')).toBe('yes');
    expect(await can('delete', 'pods', '-n', 'default')).toBe('yes'); // a canary pod stuck on a reverted revision
    expect(await can('create', 'pods', '-n', 'default')).toBe('no');
    // Secrets: it reads those a stream names and writes its own three per stream, but lists, watches
    // and deletes none
    expect(await can('get', 'secrets', '-n', 'default')).toBe('yes');
    for (const verb of ['list', 'watch', 'delete']) expect(await can(verb, 'secrets', '-n', NS), verb).toBe('no');
    expect(await can('patch', 'networkpolicies.networking.k8s.io', '-n', 'default')).toBe('yes');
    expect(await can('update', 'leases.coordination.k8s.io', '-n', 'default')).toBe('no');
    expect(await can('update', 'leases.coordination.k8s.io', '-n', NS)).toBe('yes');
  }, 240_000);

  it('reconciles the example EngramStream applied as the NOTES say (with only the chart\'s permissions)', async () => {
    // the NOTES' command, as a user would paste it: kubectl apply of the example in a heredoc
    const heredoc = /^kubectl apply -f - <<'YAML'\n([\s\S]*?)\nYAML$/m.exec(installOutput)?.[1];
    expect(heredoc?.trim()).toBe(readFileSync(join(REPO_ROOT, 'examples', 'engramstream.yaml'), 'utf8').trim());
    await cluster.kubectl(['apply', '-f', '-'], `${heredoc}\n`);
    const s = await converged('memory');
    expect(condition(s, 'Degraded')?.status).toBe('False');
    expect(await kubectl('get', 'engramstreams', 'memory', '--no-headers')).toMatch(/^memory\s+Balanced\s+2\s+1\/1\s+True\s+Running/);
    // leader election under the chart's Lease name, in the release namespace
    const lease = await getJson<{ spec: { holderIdentity: string } }>('lease', RELEASE, '-n', NS);
    expect(lease.spec.holderIdentity).toBe((await operatorPods())[0]!.metadata.name);
    // its Events were written (RBAC on events), and nothing it asked for was forbidden
    expect(await kubectl('get', 'events', '-n', 'default', '--field-selector', 'involvedObject.name=memory,involvedObject.kind=EngramStream', '-o', 'name')).not.toBe('');
    expect(operatorLogs()).toContain('caches synced');
    expect(operatorLogs()).not.toMatch(/forbidden/i);
  }, 180_000);

  it('helm test creates a scratch EngramStream, streams into it, recalls every observation and deletes it', async () => {
    expect(installOutput).toContain(`helm test ${RELEASE} -n ${NS}`);
    const out = await h(['test', RELEASE, '--namespace', NS, '--timeout', '5m']);
    expect(out).toMatch(/TEST SUITE:\s+engram-operator-test/);
    expect(out).toMatch(/Phase:\s+Succeeded/);
    const log = readFileSync(join(dir, 'node', readdirSync(join(dir, 'node')).find((d) => d.startsWith(`${NS}_${RELEASE}-test`))!, 'logs', 'stream-round-trip.log'), 'utf8');
    expect(log).toContain('"message":"streamed and recalled"');
    expect(log).toContain('"observations":300');
    await eventually('the scratch stream and its engine to be gone', async () => {
      const left = await kubectl('get', 'engramstreams,statefulsets,pvc', '-n', NS, '-o', 'name');
      return left.includes('engram-helm-test-') ? undefined : true;
    }, 90_000);
  }, 360_000);

  it('under load, Prometheus scrapes engine and operator, evaluates every alert rule, and every dashboard panel\'s query returns data', async () => {
    // Limits low enough that the load meets them: a small queue (backpressure), a tenant rate limit
    // and quota (rejections, quota use), eager stealing.
    await kubectl('patch', 'engramstream', 'memory', '--type', 'merge', '-p', JSON.stringify({
      spec: { queue: { capacity: 400 }, stealThreshold: 50, tenants: [{ name: 'acme', spaces: ['acme-*'], rateLimit: 200, maxVectors: 100000 }] },
    }));
    await converged('memory');
    const engine = await getJson<Pod>('pod', 'memory-0');
    const [operator] = await operatorPods();
    prometheus = await startPrometheus([
      // the metrics key the operator made, as its ServiceMonitor would give Prometheus
      { job: 'engram-engine', address: `${engine.status.podIP}:9464`, labels: { namespace: 'default', pod: 'memory-0', engramstream: 'memory' }, bearer: await secretKey('memory-metrics-key') },
      { job: RELEASE, address: `${operator!.status.podIP}:8080`, labels: { namespace: NS, pod: operator!.metadata.name }, honorLabels: true },
    ], [join(CHART_FILES, 'alerts', 'engram-stream.rules.yaml')]);

    const client = new EngramClient(`${engine.status.podIP}:50051`, { apiKey: await secretKey('memory-admin-key') });
    clients.push(client);
    // bulk-a's client ignores flow control (and so its stream window): a client that keeps to its
    // window never fills the queue, and this load is meant to show backpressure on the dashboards
    const stream = async (space: string, count: number, seed: number) => {
      const session = await client.openStream({ memorySpace: space, ...(space.startsWith('acme-') ? { tenant: 'acme' } : { honoursBackpressure: false }) });
      const observations = clusteredObservations(space, count, DIM, seed);
      for (const o of observations) await session.send(o);
      return session.close({ drain: true });
    };
    let recalling = true;
    const recalls = (async () => {
      const probe = clusteredObservations('probe', 1, DIM, 99)[0]!.embedding;
      let n = 0;
      while (recalling) {
        await client.recall({ memorySpace: 'bulk-a', vector: probe, k: 10 }).catch(() => undefined);
        n++;
        await new Promise((r) => setTimeout(r, 20));
      }
      return n;
    })();
    const [acme, bulk] = await Promise.all([stream('acme-hot', 2000, 1), stream('bulk-a', 8000, 2)]);
    recalling = false;
    expect(acme.accepted).toBe(2000);
    expect(bulk.accepted).toBe(8000);
    expect(await recalls).toBeGreaterThan(10);
    await new Promise((r) => setTimeout(r, 4000)); // a few more scrapes after the load

    const substitute = (expr: string) => expr.replaceAll('$__rate_interval', '1m').replaceAll('$namespace', '.*').replaceAll('$engramstream', 'memory').replaceAll('$pod', '.*');
    const empty: string[] = [];
    let queried = 0;
    for (const [file, board] of Object.entries(dashboards())) {
      for (const { panel, expr } of panelQueries(board)) {
        queried++;
        const result = await prometheus.query(substitute(expr));
        if (result.length === 0) empty.push(`${file} "${panel}": ${expr}`);
      }
      for (const v of board.templating.list.filter((x) => x.definition)) {
        const selector = /label_values\((.*), \w+\)$/.exec(v.definition!)![1]!;
        if ((await prometheus.query(substitute(selector))).length === 0) empty.push(`${file} variable ${v.name}: ${selector}`);
      }
    }
    expect(queried).toBeGreaterThan(40);
    expect(empty).toEqual([]);

    // the rule files load and every rule evaluates against the real series without error
    const rules = await prometheus.rules();
    expect(rules.map((r) => r.name).sort()).toEqual(alertRules().map((r) => r.alert).sort());
    expect(rules.filter((r) => r.health !== 'ok')).toEqual([]);
    // the load did what it was meant to: the tenant held to its rate limit, backpressure on the small queue
    expect(Number((await prometheus.query('sum(engram_tenant_observations_delayed_total{tenant="acme"})'))[0]?.value[1] ?? 0)).toBeGreaterThan(0);
    expect(Number((await prometheus.query('sum(engram_streaming_backpressure_activations_total{memory_space="bulk-a"})'))[0]?.value[1] ?? 0)).toBeGreaterThan(0);
  }, 300_000);

  it('helm upgrade rolls the operator to the new settings; the new pod takes the lease and applies the next change', async () => {
    const [before] = await operatorPods();
    await h(['upgrade', RELEASE, CHART, '--namespace', NS, '--reuse-values', '--set', 'concurrency=3', '--wait', '--timeout', '3m']);
    const after = await eventually('one operator pod, the new one', async () => {
      const pods = await operatorPods();
      return pods.length === 1 && pods[0]!.metadata.uid !== before!.metadata.uid ? pods[0] : undefined;
    });
    expect(after.spec.containers[0]!.args).toContain('--concurrency=3');
    await eventually('the new pod to hold the lease', async () => {
      const lease = await getJson<{ spec: { holderIdentity?: string } }>('lease', RELEASE, '-n', NS);
      return lease.spec.holderIdentity === after.metadata.name ? true : undefined;
    }, 60_000);
    await kubectl('patch', 'engramstream', 'memory', '--type', 'merge', '-p', JSON.stringify({ spec: { hnsw: { efSearch: 80 } } }));
    await converged('memory');
    const engine = await getJson<Pod>('pod', 'memory-0');
    const client = new EngramClient(`${engine.status.podIP}:50051`, { apiKey: await secretKey('memory-admin-key') });
    clients.push(client);
    expect((await client.getConfig()).config).toMatchObject({ hnsw: { efSearch: 80 } });
    expect(operatorLogs()).not.toMatch(/forbidden/i);
  }, 240_000);

  it('helm uninstall stops the operator first (its Lease released with its RBAC intact, then deleted), keeps the CRD, the EngramStream and its engine', async () => {
    await h(['uninstall', RELEASE, '--namespace', NS, '--wait', '--timeout', '2m']);
    await eventually('the operator pods to be gone', async () => ((await operatorPods()).length === 0 ? true : undefined), 60_000);
    // the pre-delete hook scaled it to zero before Helm deleted anything: no 403 while it shut down
    expect(operatorLogs()).toContain('released the lease');
    expect(operatorLogs()).not.toMatch(/forbidden/i);
    expect(await kubectl('get', 'lease', RELEASE, '-n', NS, '--ignore-not-found', '-o', 'name')).toBe('');
    expect(await kubectl('get', 'deployments,serviceaccounts,roles,rolebindings', '-n', NS, '-l', `app.kubernetes.io/instance=${RELEASE}`, '-o', 'name')).toBe('');
    expect(await kubectl('get', 'clusterroles,clusterrolebindings', '-l', `app.kubernetes.io/instance=${RELEASE}`, '-o', 'name')).toBe('');
    expect(await kubectl('get', 'crd', 'engramstreams.engram.io', '-o', 'name')).toContain('engramstreams.engram.io');
    expect((await getJson<Pod>('pod', 'memory-0')).status.phase).toBe('Running');
    // what the README says to do to remove everything: delete the streams (the garbage collector
    // removes their engines and claims), then the CRD
    await kubectl('delete', 'engramstream', 'memory', '--wait=true');
    await eventually('the engine pod to be gone', async () => ((await kubectl('get', 'pods', '-n', 'default', '-o', 'name')) === '' ? true : undefined), 90_000);
    await kubectl('delete', 'crd', 'engramstreams.engram.io');
  }, 240_000);

  it('installs after `kubectl apply -f crds/` (the operator README\'s order), leaving that CRD alone and saying so', async () => {
    await kubectl('apply', '-f', join(REPO_ROOT, 'crds'));
    const out = await h(['install', RELEASE, CHART, '--namespace', NS, '--wait', '--timeout', '3m']);
    expect(out).toContain('STATUS: deployed');
    expect(out).toContain('installed outside this release');
    const crd = await getJson<{ metadata: { annotations?: Record<string, string> } }>('crd', 'engramstreams.engram.io');
    expect(crd.metadata.annotations?.['meta.helm.sh/release-name']).toBeUndefined();
    await h(['uninstall', RELEASE, '--namespace', NS, '--wait', '--timeout', '2m']);
    expect(await kubectl('get', 'crd', 'engramstreams.engram.io', '-o', 'name')).toContain('engramstreams.engram.io');
    await kubectl('delete', 'crd', 'engramstreams.engram.io');
  }, 240_000);
});
