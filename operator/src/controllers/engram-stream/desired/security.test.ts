import { describe, expect, it } from 'vitest';
import yaml from 'js-yaml';
import { hashKey, parseKeyDocument } from '@engram/engine/auth';
import type { EngramStream, EngramStreamSpec } from '../../../api/v1alpha1/types.js';
import { buildKeyDocument, keyIdOf, type ReferencedKeys } from './key-secrets.js';
import { buildNetworkPolicy } from './network-policy.js';
import { buildServiceMonitor } from './service-monitor.js';
import { buildStatefulSet } from './stateful-set.js';

const stream = (spec: EngramStreamSpec = {}): EngramStream => ({
  apiVersion: 'engram.io/v1alpha1', kind: 'EngramStream', metadata: { name: 'mem', namespace: 'ns', uid: 'u' }, spec,
});

describe('the key document', () => {
  const referenced: ReferencedKeys[] = [
    { ref: { secretName: 'globex-keys', role: 'Tenant', tenant: 'globex' }, entries: { current: 'g-1 ' } },
    { ref: { secretName: 'acme-keys', role: 'Tenant', tenant: 'acme', expiresAt: '2027-01-01T00:00:00Z' }, entries: { next: 'a-2', current: 'a-1', empty: '' } },
    { ref: { secretName: 'ops', role: 'Admin' }, entries: { alice: 'o-1' } },
  ];

  it('holds the operator, the metrics key and every non-empty entry, as hashes, in a fixed order the engine accepts', () => {
    const text = buildKeyDocument('admin-key', 'metrics-key', referenced);
    const keys = parseKeyDocument(yaml.load(text), 'doc');
    expect(keys.map((k) => [k.id, k.role, k.tenant ?? ''])).toEqual([
      ['operator', 'admin', ''], ['prometheus', 'metrics', ''],
      ['acme-keys.current', 'tenant', 'acme'], ['acme-keys.next', 'tenant', 'acme'], ['globex-keys.current', 'tenant', 'globex'], ['ops.alice', 'admin', ''],
    ]);
    expect(keys.find((k) => k.id === 'globex-keys.current')!.sha256).toBe(hashKey('g-1')); // trimmed, as a file's newline would be
    expect(keys.find((k) => k.id === 'acme-keys.next')!.expiresAt).toBe('2027-01-01T00:00:00Z');
    for (const secret of ['admin-key', 'metrics-key', 'a-1', 'a-2', 'g-1', 'o-1']) expect(text).not.toContain(`"${secret}"`);
    // the same keys in another order give the same text (and so the same hash: no needless pushes)
    expect(buildKeyDocument('admin-key', 'metrics-key', [...referenced].reverse())).toBe(text);
  });

  it('makes key ids the engine accepts from any Secret and entry name', () => {
    expect(keyIdOf('acme', 'k')).toBe('acme.k');
    const long = keyIdOf('a'.repeat(200), 'entry');
    expect(long).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/);
    expect(keyIdOf('a'.repeat(200), 'other')).not.toBe(long);
  });
});

describe('the engine pods with keys and TLS', () => {
  const container = (s: EngramStream) => buildStatefulSet(s, 'img', 1).spec!.template.spec!.containers[0]!;
  const volumes = (s: EngramStream) => buildStatefulSet(s, 'img', 1).spec!.template.spec!.volumes!.map((v) => v.secret?.secretName ?? v.name);

  it('mounts the key document by default, and runs --insecure only when asked', () => {
    expect(container(stream()).args).toEqual(expect.arrayContaining(['--keys-file', '/etc/engram-keys/keys.yaml']));
    expect(container(stream()).args).not.toContain('--insecure');
    expect(volumes(stream())).toContain('mem-engine-keys');
    const open = container(stream({ auth: { mode: 'None' } }));
    expect(open.args).toContain('--insecure');
    expect(open.args).not.toContain('--keys-file');
  });

  it('serves TLS from the Secret, with client certificates and HTTPS probes when asked', () => {
    const tls = container(stream({ tls: { secretName: 'mem-tls', requireClientCertificates: true, metrics: true } }));
    expect(tls.args).toEqual(expect.arrayContaining(['--tls-cert', '/etc/engram-tls/tls.crt', '--tls-key', '/etc/engram-tls/tls.key', '--tls-ca', '/etc/engram-tls/ca.crt', '--tls-require-client-cert', '--tls-http']));
    expect(tls.readinessProbe?.httpGet?.scheme).toBe('HTTPS');
    expect(volumes(stream({ tls: { secretName: 'mem-tls' } }))).toContain('mem-tls');
    expect(container(stream()).readinessProbe?.httpGet?.scheme).toBe('HTTP');
  });

  it('gives Prometheus the metrics key, and the CA when metrics are served over HTTPS', () => {
    const endpoint = (s: EngramStream, name?: string) => (buildServiceMonitor(s, name).spec.endpoints as Array<Record<string, unknown>>)[0]!;
    expect(endpoint(stream())).toMatchObject({ authorization: { type: 'Bearer', credentials: { name: 'mem-metrics-key', key: 'key' } } });
    expect(endpoint(stream({ auth: { mode: 'None' } })).authorization).toBeUndefined();
    expect(endpoint(stream({ tls: { secretName: 'mem-tls', metrics: true } }), 'engram.test')).toMatchObject({
      scheme: 'https', tlsConfig: { ca: { secret: { name: 'mem-tls', key: 'ca.crt' } }, serverName: 'engram.test' },
    });
  });
});

describe('the NetworkPolicy', () => {
  it('lets gRPC in from the stream\'s pods, its labelled clients and the operator; metrics from the chosen namespaces and the operator', () => {
    const policy = buildNetworkPolicy(stream({ networkPolicy: { metricsFrom: { 'kubernetes.io/metadata.name': 'monitoring' } } }));
    expect(policy.spec!.podSelector!.matchLabels).toMatchObject({ 'engram.io/stream': 'mem' });
    const [grpc, metrics] = policy.spec!.ingress!;
    expect(grpc!.ports).toEqual([{ protocol: 'TCP', port: 50051 }]);
    expect(grpc!._from).toEqual([
      { podSelector: { matchLabels: expect.objectContaining({ 'engram.io/stream': 'mem' }) } },
      { podSelector: { matchLabels: { 'engram.io/client-of': 'mem' } } },
      { namespaceSelector: {}, podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'engram-stream', 'app.kubernetes.io/component': 'operator' } } },
    ]);
    expect(metrics!.ports).toEqual([{ protocol: 'TCP', port: 9464 }]);
    expect(metrics!._from![0]).toEqual({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } });
    expect(buildNetworkPolicy(stream()).spec!.ingress![1]!._from![0]).toEqual({ namespaceSelector: {} });
  });
});
