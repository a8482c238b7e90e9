// The Secrets behind a stream's API keys. The operator's own admin key and the metrics key are
// made once, at random, and kept (<name>-admin-key, <name>-metrics-key: users and Prometheus read
// them); the engines get only hashes: <name>-engine-keys holds the key document, built from those
// two and from every entry of the Secrets spec.auth.keys names.
import { createHash } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { hashKey, type KeyEntry, type Role } from '@engram/engine/auth';
import type { EngramStream, KeyRole, KeySecretRef } from '../../../api/v1alpha1/types.js';
import { commonLabels, ownerReference, streamNames } from '../names.js';

export const KEY_DATA = 'key';
export const KEYS_FILE = 'keys.yaml';

/** A client key Secret as read: its reference in the spec and its entries (data key → key). */
export interface ReferencedKeys {
  ref: KeySecretRef;
  entries: Record<string, string>;
}

const ROLE: Record<KeyRole, Role> = { Admin: 'admin', Tenant: 'tenant', Metrics: 'metrics' };
const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** `<secret>.<entry>` when it fits the engine's key id rules, else a shortened form with a hash. */
export function keyIdOf(secretName: string, entry: string): string {
  const id = `${secretName}.${entry}`;
  if (KEY_ID.test(id)) return id;
  const digest = createHash('sha256').update(id).digest('hex').slice(0, 8);
  return `${id.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 50)}-${digest}`;
}

/**
 * The key document every engine of the stream gets (JSON, which the engine reads as YAML): in a
 * fixed order, so the same keys always give the same text and hash.
 */
export function buildKeyDocument(adminKey: string, metricsKey: string, referenced: ReferencedKeys[]): string {
  const keys: KeyEntry[] = [
    { id: 'operator', role: 'admin', sha256: hashKey(adminKey) },
    { id: 'prometheus', role: 'metrics', sha256: hashKey(metricsKey) },
  ];
  for (const { ref, entries } of [...referenced].sort((a, b) => a.ref.secretName.localeCompare(b.ref.secretName))) {
    for (const [entry, key] of Object.entries(entries).sort(([a], [b]) => a.localeCompare(b))) {
      if (key.trim() === '') continue;
      keys.push({
        id: keyIdOf(ref.secretName, entry), role: ROLE[ref.role], sha256: hashKey(key.trim()),
        ...(ref.role === 'Tenant' && ref.tenant ? { tenant: ref.tenant } : {}), ...(ref.expiresAt ? { expiresAt: ref.expiresAt } : {}),
      });
    }
  }
  return JSON.stringify({ keys }, null, 1);
}

export function authEnabled(stream: EngramStream): boolean {
  return (stream.spec.auth?.mode ?? 'APIKeys') === 'APIKeys';
}

export function keySecretNames(stream: EngramStream): { admin: string; metrics: string; engine: string } {
  const name = streamNames(stream).statefulSet;
  return { admin: `${name}-admin-key`, metrics: `${name}-metrics-key`, engine: `${name}-engine-keys` };
}

function secret(stream: EngramStream, name: string, data: Record<string, string>): V1Secret {
  return {
    apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
    metadata: { name, namespace: stream.metadata.namespace!, labels: commonLabels(stream), ownerReferences: [ownerReference(stream)] },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

/** A key Secret the operator makes once (admin or metrics): `key` is the key itself. */
export function buildKeySecret(stream: EngramStream, name: string, key: string): V1Secret {
  return secret(stream, name, { [KEY_DATA]: key });
}

/** The Secret the engine pods mount: hashes only. */
export function buildEngineKeysSecret(stream: EngramStream, document: string): V1Secret {
  return secret(stream, keySecretNames(stream).engine, { [KEYS_FILE]: document });
}

/** A Secret's entries as text. */
export function secretEntries(secret: V1Secret | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(secret?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}
