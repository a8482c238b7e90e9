// A stream as a security-minded user runs it: in a namespace enforcing the "restricted" pod
// security standard, API keys on (the default) with a tenant's keys from a Secret, TLS from a
// cert-manager-style Secret. The tenant's key is rotated through its Secret while the tenant
// streams: the new key works, the old one stops, the stream moves to the new key, and nothing
// acknowledged is lost. Plaintext and other tenants' spaces are refused; a canary rollout analysed
// from the engines' own metrics (read with the stream's key) is promoted over TLS hand-offs.
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngramClient, type ClientOptions } from '../../engine/dist/client/engram-client.js';
import { newKey } from '../../engine/dist/auth/credentials.js';
import { sendNotingAccepted } from '../helpers/accepted-ids.js';
import { createCa } from '../helpers/certificates.js';
import { refusedPrivilegedPod } from '../helpers/pod-security.js';
import { clusteredObservations } from '../helpers/vectors.js';
import { eventually, grpcAddress, startOperatorCluster, type OperatorCluster } from './operator-harness.js';

const NS = 'secure';
const NAME = 'mem';
const DIM = 16;
const SERVER_NAME = `${NAME}.${NS}.svc`;

interface Stream {
  metadata: { generation: number };
  status?: { observedGeneration?: number; conditions?: Array<{ type: string; status: string; reason: string }>; rollout?: { phase: string; stable: { configHash: string } }; desiredConfigHash?: string };
}

async function codeOf(work: () => Promise<unknown>): Promise<string> {
  try {
    await work();
    return 'OK';
  } catch (e) {
    return grpc.status[(e as grpc.ServiceError).code] ?? String(e);
  }
}

describe('a stream with keys, TLS and the restricted pod security standard', () => {
  let oc: OperatorCluster;
  const clients: EngramClient[] = [];
  let ca: Buffer;
  const kubectl = (...args: string[]) => oc.kubectl(args);
  const apply = (object: unknown) => oc.kubectl(['apply', '-f', '-'], JSON.stringify(object));
  const stream = async () => JSON.parse(await kubectl('get', 'engramstream', NAME, '-n', NS, '-o', 'json')) as Stream;
  const readyAddresses = async () => (await oc.readyEnginePods(NAME, NS)).map(grpcAddress);
  const client = (address: string, options: ClientOptions) => {
    const c = new EngramClient(address, { deadlineMs: 5000, ...options });
    clients.push(c);
    return c;
  };
  const tls = () => ({ ca, serverName: SERVER_NAME });
  const keySecret = (entries: Record<string, string>) => apply({
    apiVersion: 'v1', kind: 'Secret', metadata: { name: 'acme-keys', namespace: NS }, stringData: entries,
  }).then(() => kubectl('get', 'secret', 'acme-keys', '-n', NS, '-o', 'json')).then((json) => {
    // apply merges stringData into data: drop entries no longer listed
    const present = Object.keys((JSON.parse(json) as { data?: Record<string, string> }).data ?? {});
    const gone = present.filter((k) => !(k in entries));
    return gone.length > 0 ? kubectl('patch', 'secret', 'acme-keys', '-n', NS, '--type', 'json', '-p', JSON.stringify(gone.map((k) => ({ op: 'remove', path: `/data/${k}` })))) : '';
  });
  const settled = (what: string, check: (s: Stream) => boolean, timeoutMs = 120_000) => eventually(what, async () => {
    const s = await stream();
    return s.status?.observedGeneration === s.metadata.generation && check(s) ? s : undefined;
  }, timeoutMs);
  const ready = (s: Stream) => s.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';

  const keys = { current: newKey(), next: newKey() };

  beforeAll(async () => {
    oc = await startOperatorCluster();
    await oc.startOperator('op-a');
    await kubectl('create', 'namespace', NS);
    await kubectl('label', 'namespace', NS, 'pod-security.kubernetes.io/enforce=restricted');
    expect(await refusedPrivilegedPod(oc.cluster, NS)).toMatch(/violates PodSecurity "restricted:latest"/);
    const authority = createCa(oc.dir, 'stream-ca');
    const cert = authority.issue('stream', [`DNS:${SERVER_NAME}`, `DNS:*.${NAME}-headless.${NS}.svc`]);
    ca = readFileSync(authority.cert);
    await apply({
      apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: `${NAME}-tls`, namespace: NS },
      stringData: { 'tls.crt': readFileSync(cert.cert, 'utf8'), 'tls.key': readFileSync(cert.key, 'utf8'), 'ca.crt': ca.toString() },
    });
    await keySecret({ current: keys.current });
    await apply({
      apiVersion: 'engram.io/v1alpha1', kind: 'EngramStream', metadata: { name: NAME, namespace: NS },
      spec: {
        replicas: 2, workers: 1, hnsw: { dimension: DIM },
        tenants: [{ name: 'acme', spaces: ['acme-*'] }, { name: 'globex', spaces: ['globex-*'] }],
        auth: { keys: [{ secretName: 'acme-keys', role: 'Tenant', tenant: 'acme' }] },
        tls: { secretName: `${NAME}-tls` },
        rollout: {
          steps: [{ setWeight: 50 }, { analysis: { templates: ['errors'] } }],
          analysisTemplates: [{ name: 'errors', metric: 'errorRate', max: 0.5, interval: '3s', count: 2, minSamples: 1 }],
        },
      },
    });
    await settled('the stream Ready', ready, 180_000);
  }, 300_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await oc?.stop();
  }, 120_000);

  it('runs its pods under the restricted standard, behind a NetworkPolicy, and refuses plaintext, strangers and other tenants', async () => {
    const pods = await readyAddresses();
    expect(pods).toHaveLength(2);
    const policy = JSON.parse(await kubectl('get', 'networkpolicy', NAME, '-n', NS, '-o', 'json')) as { spec: { ingress: Array<{ from: unknown[] }> } };
    expect(policy.spec.ingress[0]!.from).toContainEqual({ podSelector: { matchLabels: { 'engram.io/client-of': NAME } } });
    const address = pods[0]!;
    expect(await codeOf(() => client(address, { apiKey: keys.current }).stats())).toBe('UNAVAILABLE'); // plaintext to a TLS port
    expect(await codeOf(() => client(address, { tls: tls() }).stats())).toBe('UNAUTHENTICATED');
    expect(await codeOf(() => client(address, { tls: tls(), apiKey: newKey() }).stats())).toBe('UNAUTHENTICATED');
    const acme = client(address, { tls: tls(), apiKey: keys.current });
    expect(await codeOf(() => acme.stats())).toBe('OK');
    expect(await codeOf(() => acme.fetch('globex-x', ['1']))).toBe('PERMISSION_DENIED');
    expect(await codeOf(() => acme.applyConfig({ tenants: [] }))).toBe('PERMISSION_DENIED');
    const admin = client(address, { tls: tls(), apiKey: await oc.adminKey(NAME, NS) });
    expect(await codeOf(() => admin.getConfig())).toBe('OK');
  });

  it('rotates a tenant key through its Secret while the tenant streams: the old key stops, nothing acknowledged is lost', async () => {
    const space = 'acme-rotation';
    const observations = clusteredObservations(space, 100_000, DIM);
    const accepted = new Set<string>();
    let key = keys.current;
    let next = 0;
    let switchedAt = 0;
    let stopAt = Infinity;
    const timeline: string[] = [];
    const started = performance.now();
    const writer = (async () => {
      let pending: string[] = [];
      while (performance.now() < stopAt || pending.length > 0) {
        // the client takes the new key from the moment it is told to (its next connection)
        if (switchedAt > 0) key = keys.next;
        const addresses = await readyAddresses();
        const s = await client(addresses[next % addresses.length]!, { tls: tls(), apiKey: key }).openStream({ memorySpace: space, maxBatch: 20 }).catch(() => null);
        if (!s) {
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        const send = sendNotingAccepted(s, accepted);
        try {
          for (const id of pending) await send(observations.find((o) => o.id === id)!);
          pending = [];
          while (performance.now() < stopAt) {
            await send(observations[next++]!);
            if (next % 10 === 0) await new Promise((r) => setTimeout(r, 20));
          }
          await s.close({ drain: true });
        } catch (e) {
          const failure = e as grpc.ServiceError;
          timeline.push(`${((performance.now() - started) / 1000).toFixed(1)} s: stream ended (${failure.code !== undefined ? grpc.status[failure.code] : failure.message})`);
          pending = observations.slice(0, next).map((o) => o.id).filter((id) => !accepted.has(id));
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 2000));
    // rotation, step 1: the new key is added beside the old one
    await keySecret({ current: keys.current, next: keys.next });
    const probe = async (apiKey: string) => codeOf(async () => client((await readyAddresses())[0]!, { tls: tls(), apiKey }).stats());
    const added = performance.now();
    await eventually('the new key to work', async () => ((await probe(keys.next)) === 'OK' ? true : undefined), 60_000);
    timeline.push(`new key accepted ${((performance.now() - added) / 1000).toFixed(1)} s after it was added to the Secret`);
    // step 2: the client switches (on its next reconnect) and the old key is removed
    switchedAt = performance.now();
    await keySecret({ next: keys.next });
    await eventually('the old key to be refused', async () => ((await probe(keys.current)) === 'UNAUTHENTICATED' ? true : undefined), 60_000);
    const revokedAfter = (performance.now() - switchedAt) / 1000;
    timeline.push(`old key refused ${revokedAfter.toFixed(1)} s after it was removed from the Secret`);
    await new Promise((r) => setTimeout(r, 3000));
    stopAt = performance.now();
    await writer;
    console.log(`key rotation: ${timeline.join('; ')}; ${accepted.size} observations acknowledged`);
    expect(revokedAfter).toBeLessThan(20); // a pass every 10 s reads the Secret, then pushes to every engine
    expect(timeline.some((t) => t.includes('stream ended (UNAUTHENTICATED)'))).toBe(true);
    const admin = client((await readyAddresses())[0]!, { tls: tls(), apiKey: await oc.adminKey(NAME, NS) });
    const ids = [...accepted];
    for (let i = 0; i < ids.length; i += 1000) expect((await admin.fetch(space, ids.slice(i, i + 1000))).missingIds).toEqual([]);
  }, 180_000);

  it('promotes a canary rollout analysed from the engines\' own metrics, read with the stream\'s key, over TLS hand-offs', async () => {
    const before = await stream();
    await kubectl('patch', 'engramstream', NAME, '-n', NS, '--type', 'merge', '-p', JSON.stringify({ spec: { hnsw: { efSearch: 80 } } }));
    // some traffic for the analysis to measure, on both tracks
    const admin = client((await readyAddresses())[0]!, { tls: tls(), apiKey: await oc.adminKey(NAME, NS) });
    let recalling = true;
    const recalls = (async () => {
      const vector = clusteredObservations('acme-rotation', 1, DIM)[0]!.embedding;
      while (recalling) {
        await admin.recall({ memorySpace: 'acme-rotation', vector, k: 3 }).catch(() => undefined);
        await admin.stats().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const done = await settled('the rollout promoted', (s) => s.status?.rollout?.phase === 'Healthy' && s.status.rollout.stable.configHash !== before.status?.rollout?.stable.configHash && ready(s), 240_000);
    recalling = false;
    await recalls;
    expect(done.status?.rollout?.stable.configHash).toBe(done.status?.desiredConfigHash);
    const events = JSON.parse(await kubectl('get', 'events', '-n', NS, '--field-selector', `involvedObject.name=${NAME}`, '-o', 'json')) as { items: Array<{ reason: string }> };
    expect(events.items.map((e) => e.reason)).toEqual(expect.arrayContaining(['AnalysisSuccessful', 'RolloutCompleted', 'HandoffCompleted']));
  }, 300_000);
});
