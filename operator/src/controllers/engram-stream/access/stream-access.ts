// How the operator reaches a stream's engines, and which keys they must hold. Each pass reads the
// Secrets spec.auth.keys names (a rotated key reaches the engines on the next pass, within about
// 10 s: see REQUEUE.keys), makes the admin and metrics keys once, writes the hashes the pods mount,
// and reads the TLS Secret's CA and name so the operator can dial pods by address.
import type { V1Secret } from '@kubernetes/client-node';
import { keyDocumentHash, newKey } from '@engram/engine/auth';
import { certificateName, type ClientTls } from '@engram/engine/client';
import type { EngramStream } from '../../../api/v1alpha1/types.js';
import type { Applier } from '../../../runtime/apply.js';
import {
  authEnabled, buildEngineKeysSecret, buildKeyDocument, buildKeySecret, KEY_DATA, keySecretNames, secretEntries, type ReferencedKeys,
} from '../desired/key-secrets.js';

export interface StreamAccess {
  /** What the operator's clients present: its admin key, and TLS trust for the pods. */
  client: { apiKey?: string; tls?: ClientTls };
  /** The key document every engine must hold (null: the stream runs without keys). */
  keys: { document: string; hash: string } | null;
  /** What could not be read (a missing Secret): reported in status, the rest still applies. */
  problems: string[];
}

export interface AccessDeps {
  applier: Pick<Applier, 'apply' | 'read'>;
  newKey?: () => string;
}

export class AccessPass {
  constructor(private readonly deps: AccessDeps) {}

  async resolve(stream: EngramStream): Promise<StreamAccess> {
    const problems: string[] = [];
    const tls = await this.clientTls(stream, problems);
    if (!authEnabled(stream)) return { client: tls ? { tls } : {}, keys: null, problems };
    const names = keySecretNames(stream);
    const adminKey = await this.ownKey(stream, names.admin);
    const metricsKey = await this.ownKey(stream, names.metrics);
    const referenced: ReferencedKeys[] = [];
    for (const ref of stream.spec.auth?.keys ?? []) {
      const secret = await this.secret(stream, ref.secretName);
      if (!secret) problems.push(`Secret '${ref.secretName}' (spec.auth.keys) not found: its keys are not accepted`);
      else referenced.push({ ref, entries: secretEntries(secret) });
    }
    const document = buildKeyDocument(adminKey, metricsKey, referenced);
    await this.deps.applier.apply(buildEngineKeysSecret(stream, document));
    return { client: { apiKey: adminKey, ...(tls ? { tls } : {}) }, keys: { document, hash: keyDocumentHash(document) }, problems };
  }

  /** A key the operator keeps in a Secret of its own: made at random the first time, then read. */
  private async ownKey(stream: EngramStream, name: string): Promise<string> {
    const existing = secretEntries(await this.secret(stream, name))[KEY_DATA];
    if (existing) return existing;
    const key = (this.deps.newKey ?? newKey)();
    await this.deps.applier.apply(buildKeySecret(stream, name, key));
    return key;
  }

  /**
   * Trust for the pods' certificate (ca.crt) and the name it carries (pods are dialled by
   * address); with client certificates required, the operator presents the pods' own.
   */
  private async clientTls(stream: EngramStream, problems: string[]): Promise<ClientTls | undefined> {
    const spec = stream.spec.tls;
    if (!spec) return undefined;
    const entries = secretEntries(await this.secret(stream, spec.secretName));
    const cert = entries['tls.crt'];
    if (!cert) {
      problems.push(`TLS Secret '${spec.secretName}' not found, or without tls.crt: the engine pods cannot start`);
      return undefined;
    }
    const serverName = certificateName(cert);
    return {
      ...(entries['ca.crt'] ? { ca: Buffer.from(entries['ca.crt']) } : {}),
      ...(serverName ? { serverName } : {}),
      ...(spec.requireClientCertificates && entries['tls.key'] ? { cert: Buffer.from(cert), key: Buffer.from(entries['tls.key']) } : {}),
    };
  }

  private secret(stream: EngramStream, name: string): Promise<V1Secret | undefined> {
    return this.deps.applier.read<V1Secret>({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: stream.metadata.namespace! } });
  }
}
