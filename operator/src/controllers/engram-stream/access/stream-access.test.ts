import { describe, expect, it } from 'vitest';
import type { KubernetesObject, V1Secret } from '@kubernetes/client-node';
import { keyDocumentHash } from '@engram/engine/auth';
import type { EngramStream, EngramStreamSpec } from '../../../api/v1alpha1/types.js';
import type { Applier } from '../../../runtime/apply.js';
import { AccessPass } from './stream-access.js';

const stream = (spec: EngramStreamSpec = {}): EngramStream => ({
  apiVersion: 'engram.io/v1alpha1', kind: 'EngramStream', metadata: { name: 'mem', namespace: 'ns', uid: 'u' }, spec,
});
const b64 = (s: string) => Buffer.from(s).toString('base64');

/** Secrets in a map, as the API server would keep them. */
function applierWith(secrets: Record<string, Record<string, string>>): Pick<Applier, 'apply' | 'read'> & { applied: string[] } {
  const applied: string[] = [];
  return {
    applied,
    apply: async <T extends KubernetesObject>(object: T) => {
      const secret = object as unknown as V1Secret;
      applied.push(secret.metadata!.name!);
      secrets[secret.metadata!.name!] = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
      return object;
    },
    read: async <T extends KubernetesObject>(object: T & { metadata: { name: string } }) => {
      const data = secrets[object.metadata.name];
      return (data ? { metadata: { name: object.metadata.name }, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])) } : undefined) as T | undefined;
    },
  };
}

describe('AccessPass', () => {
  it('makes the admin and metrics keys once, then keeps them; the engines get a document of hashes', async () => {
    const secrets: Record<string, Record<string, string>> = { 'acme-keys': { k1: 'acme-secret' } };
    const applier = applierWith(secrets);
    let made = 0;
    const pass = new AccessPass({ applier, newKey: () => `esk_made-${++made}` });
    const s = stream({ auth: { keys: [{ secretName: 'acme-keys', role: 'Tenant', tenant: 'acme' }] } });
    const first = await pass.resolve(s);
    expect(first.client.apiKey).toBe('esk_made-1');
    expect(secrets['mem-admin-key']).toEqual({ key: 'esk_made-1' });
    expect(secrets['mem-metrics-key']).toEqual({ key: 'esk_made-2' });
    expect(secrets['mem-engine-keys']!['keys.yaml']).toBe(first.keys!.document);
    expect(first.keys!.hash).toBe(keyDocumentHash(first.keys!.document));
    expect(first.keys!.document).toContain('acme-keys.k1');
    expect(first.keys!.document).not.toContain('acme-secret');
    const second = await pass.resolve(s);
    expect(made).toBe(2);
    expect(second.keys!.hash).toBe(first.keys!.hash);
    // a rotated entry changes the document
    secrets['acme-keys'] = { k2: 'acme-secret-2' };
    expect((await pass.resolve(s)).keys!.hash).not.toBe(first.keys!.hash);
  });

  it('reports a missing key Secret and goes on with the rest', async () => {
    const pass = new AccessPass({ applier: applierWith({}), newKey: () => 'esk_x' });
    const access = await pass.resolve(stream({ auth: { keys: [{ secretName: 'gone', role: 'Admin' }] } }));
    expect(access.problems).toEqual(["Secret 'gone' (spec.auth.keys) not found: its keys are not accepted"]);
    expect(access.keys!.document).toContain('operator');
  });

  it('makes no keys for a stream without them', async () => {
    const applier = applierWith({});
    const access = await new AccessPass({ applier }).resolve(stream({ auth: { mode: 'None' } }));
    expect(access).toEqual({ client: {}, keys: null, problems: [] });
    expect(applier.applied).toEqual([]);
  });

  it('trusts the TLS Secret\'s CA, and presents its certificate when clients must have one', async () => {
    const applier = applierWith({ 'mem-tls': { 'tls.crt': 'not a certificate', 'tls.key': 'KEY', 'ca.crt': 'CA' } });
    const access = await new AccessPass({ applier, newKey: () => 'esk_x' }).resolve(stream({ tls: { secretName: 'mem-tls', requireClientCertificates: true } }));
    expect(access.client.tls).toEqual({ ca: Buffer.from('CA'), cert: Buffer.from('not a certificate'), key: Buffer.from('KEY') });
    const missing = await new AccessPass({ applier: applierWith({}), newKey: () => 'esk_x' }).resolve(stream({ tls: { secretName: 'absent' } }));
    expect(missing.problems).toEqual(["TLS Secret 'absent' not found, or without tls.crt: the engine pods cannot start"]);
  });
});
