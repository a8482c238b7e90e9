// TLS on the engine's ports: plaintext and untrusted clients are refused; a certificate renewed on
// disk is served without a restart; with client certificates required, a client without one is
// refused; the metrics port speaks HTTPS. Two engines of one stream reach each other over TLS with
// the caller's key: a tenant's stream and recall forwarded to the owner, and a hand-off started by
// an admin key.
import * as grpc from '@grpc/grpc-js';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngramClient, type ClientTls } from '../../engine/dist/client/engram-client.js';
import { keysCommand } from '../../engine/dist/cli/keys-command.js';
import { Placement, type PlacementSpec } from '../../engine/dist/placement/placement.js';
import { startEngine, type EngineProcess } from '../../engine/dist/testing/engine-process.js';
import { createCa, installAsSecretLayout, type TestCa } from '../helpers/certificates.js';
import { eventually } from '../helpers/eventually.js';
import { clusteredObservations } from '../helpers/vectors.js';

const DIM = 16;
const NAMES = ['DNS:engram.test', 'IP:127.0.0.1'];

describe('TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-tls-'));
  const clients: EngramClient[] = [];
  const engines: EngineProcess[] = [];
  let ca: TestCa;
  let other: TestCa;
  const trust = (authority: TestCa, extra: Partial<ClientTls> = {}): ClientTls => ({ ca: readFileSync(authority.cert), ...extra });
  const client = (address: string, options: ConstructorParameters<typeof EngramClient>[1]) => {
    const c = new EngramClient(address, { deadlineMs: 5000, ...options });
    clients.push(c);
    return c;
  };
  const codeOf = (work: Promise<unknown>) => work.then(() => 'OK', (e: grpc.ServiceError) => grpc.status[e.code]);
  const podFiles = (name: string, authority: TestCa) => {
    const target = join(dir, name);
    mkdirSync(target, { recursive: true });
    return installAsSecretLayout(target, authority.issue(name, NAMES), authority);
  };

  beforeAll(() => {
    ca = createCa(dir, 'engram-ca');
    other = createCa(dir, 'other-ca');
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    for (const e of engines) await e.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses plaintext and untrusted clients, and serves a renewed certificate without a restart', async () => {
    const files = podFiles('single', ca);
    const engine = await startEngine({ 'hnsw.dimension': DIM }, ['--insecure', '--tls-cert', files.cert, '--tls-key', files.key]);
    engines.push(engine);
    expect(await codeOf(client(engine.address, {}).stats())).toBe('UNAVAILABLE');
    expect(await codeOf(client(engine.address, { tls: trust(other) }).stats())).toBe('UNAVAILABLE');
    expect(await codeOf(client(engine.address, { tls: trust(ca) }).stats())).toBe('OK');
    // renewed by another CA: new connections get the new certificate
    const renewedAt = performance.now();
    installAsSecretLayout(join(dir, 'single'), other.issue('single-renewed', NAMES), other);
    await eventually('the renewed certificate', async () => ((await codeOf(client(engine.address, { tls: trust(other) }).stats())) === 'OK' ? true : undefined), 15_000);
    console.log(`renewed certificate served ${(performance.now() - renewedAt).toFixed(0)} ms after it was written`);
    expect(await codeOf(client(engine.address, { tls: trust(ca) }).stats())).toBe('UNAVAILABLE');
  });

  it('with client certificates required, refuses a client without one; serves metrics over HTTPS', async () => {
    const files = podFiles('mtls', ca);
    const engine = await startEngine({ 'hnsw.dimension': DIM }, ['--insecure', '--tls-cert', files.cert, '--tls-key', files.key, '--tls-ca', files.ca, '--tls-require-client-cert', '--tls-http']);
    engines.push(engine);
    expect(await codeOf(client(engine.address, { tls: trust(ca) }).stats())).toBe('UNAVAILABLE');
    const stranger = other.issue('stranger', [], 'clientAuth');
    expect(await codeOf(client(engine.address, { tls: trust(ca, { cert: readFileSync(stranger.cert), key: readFileSync(stranger.key) }) }).stats())).toBe('UNAVAILABLE');
    const member = ca.issue('client', [], 'clientAuth');
    expect(await codeOf(client(engine.address, { tls: trust(ca, { cert: readFileSync(member.cert), key: readFileSync(member.key) }) }).stats())).toBe('OK');
    const url = engine.httpUrl.replace('http:', 'https:');
    const status = await new Promise<number>((resolve, reject) => get(`${url}/readyz`, { ca: readFileSync(ca.cert) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject));
    expect(status).toBe(200);
    expect(await fetch(`${engine.httpUrl}/readyz`).then(() => 'plaintext answered', () => 'refused')).toBe('refused');
  });

  it('forwards a tenant\'s calls and runs a hand-off between engines over TLS, with the caller\'s key', async () => {
    const keysFile = join(dir, 'keys.yaml');
    const keys: Record<string, string> = {};
    for (const [id, role, tenant] of [['ops', 'admin'], ['acme-1', 'tenant', 'acme']] as const) {
      keysCommand({ action: 'create', keysFile, id, role, ...(tenant ? { tenant } : {}), write: (t: string) => (keys[id] = t.trim()) });
    }
    const pair: EngineProcess[] = [];
    for (const name of ['tls-0', 'tls-1']) {
      const files = podFiles(name, ca);
      pair.push(await startEngine({ 'hnsw.dimension': DIM, workers: 1, tenants: [{ name: 'acme', spaces: ['acme-*'] }] }, [
        '--keys-file', keysFile, '--member-name', name, '--tls-cert', files.cert, '--tls-key', files.key, '--tls-ca', files.ca,
      ]));
    }
    engines.push(...pair);
    const as = (engine: EngineProcess, key: string) => client(engine.address, { apiKey: key, tls: trust(ca) });
    const spec: PlacementSpec = { generation: 1, members: pair.map((e, ordinal) => ({ ordinal, name: `tls-${ordinal}`, address: e.address })), assignments: {} };
    for (const e of pair) await as(e, keys.ops!).applyPlacement(spec);
    const placement = new Placement(spec);
    const space = Array.from({ length: 50 }, (_, i) => `acme-${i}`).find((s) => placement.ownerOf(s).ordinal === 0)!;
    // written and recalled through the engine that does not own the space
    const s = await as(pair[1]!, keys['acme-1']!).openStream({ memorySpace: space });
    const observations = clusteredObservations(space, 200, DIM);
    for (const o of observations) await s.send(o);
    expect((await s.close({ drain: true })).accepted).toBe(200);
    const hits = await as(pair[1]!, keys['acme-1']!).recall({ memorySpace: space, vector: observations[7]!.embedding, k: 1 });
    expect(hits.hits[0]?.id).toBe(`${space}-7`);
    expect((await as(pair[0]!, keys.ops!).stats()).spaces.find((x) => x.memorySpace === space)).toMatchObject({ owned: true, vectors: 200 });
    // the new owner pulls the space from the old one with the admin key it was asked with
    await as(pair[1]!, keys.ops!).startImport(space, pair[0]!.address, 'tls-move-1');
    const verified = await eventually('the import over TLS', async () => {
      const h = (await as(pair[1]!, keys.ops!).handoffs()).imports.find((i) => i.handoffId === 'tls-move-1');
      if (h?.phase === 'failed') throw new Error(h.error);
      return h?.phase === 'verified' ? h : undefined;
    }, 30_000);
    expect(verified.count).toBe(200);
  });
});
