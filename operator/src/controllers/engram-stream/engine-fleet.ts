// The operator's side of the seam to running engines: it asks each ready engine pod which config and
// which API keys it runs (the engine's own hashes, never assumed) and pushes the desired ones to
// those that differ, through the engine's own client, with the stream's admin key and TLS trust.
// One client per pod address and access, closed when the pod goes.
import type { V1Pod } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import { EngramClient, type ClientTls, type EngineConfigView } from '@engram/engine/client';
import type { EngineConfig } from '@engram/engine/config';
import type { PodConfigStatus } from '../../api/v1alpha1/types.js';

/** What one engine said when asked or pushed to. */
export interface EngineReport extends PodConfigStatus {
  /** The engine refused the pushed config: its code and message. */
  refused?: { code: string; message: string };
  /** The engine could not be reached. */
  unreachable?: string;
  /** The config was pushed to it in this pass. */
  pushed: boolean;
  /** Hash of the config it should run (a rollout gives canary pods another than the rest). */
  expectedHash?: string;
}

/** How to reach a stream's engines, and the key document they must hold (null: no keys). */
export interface EngineAccess {
  apiKey?: string;
  tls?: ClientTls;
  keys?: { document: string; hash: string } | null;
}

function fingerprint(access: EngineAccess): string {
  const { apiKey, tls } = access;
  return createHash('sha256').update(JSON.stringify([apiKey ?? '', tls?.ca?.toString() ?? '', tls?.cert?.toString() ?? '', tls?.serverName ?? ''])).digest('hex').slice(0, 16);
}

export interface DesiredConfig {
  config: EngineConfig;
  hash: string;
}

export function isPodReady(pod: V1Pod): boolean {
  return !pod.metadata?.deletionTimestamp && pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

interface GrpcFailure { code?: number; details?: string; metadata?: { get(key: string): unknown[] } }

/** gRPC status codes that mean the engine was not reached or did not answer, not that it said no. */
const NOT_ANSWERED = new Set([4 /* DEADLINE_EXCEEDED */, 14 /* UNAVAILABLE */]);

function isRefusal(e: unknown): boolean {
  const code = (e as GrpcFailure).code;
  return code !== undefined && !NOT_ANSWERED.has(code);
}

function describeFailure(e: unknown): { code: string; message: string } {
  const failure = e as GrpcFailure;
  const code = failure.metadata?.get('engram-error-code')?.[0];
  return { code: typeof code === 'string' ? code : `GRPC_${failure.code ?? 'UNKNOWN'}`, message: failure.details ?? String(e) };
}

export class EngineFleet {
  /** By address and access fingerprint: a new admin key or CA gets a new client. */
  private readonly clients = new Map<string, EngramClient>();
  /** Addresses each stream's last pass used, so clients of replaced pods are closed. */
  private readonly addressesOf = new Map<string, Set<string>>();
  /** How each address is reached (its stream's access, as of its last pass). */
  private readonly accessOf = new Map<string, EngineAccess>();

  constructor(private readonly deadlineMs = 5000) {}

  /** The client of the engine at `address` (shared by config pushes and placement). */
  client(address: string): EngramClient {
    const access = this.accessOf.get(address) ?? {};
    const key = `${address}#${fingerprint(access)}`;
    let client = this.clients.get(key);
    if (!client) {
      client = new EngramClient(address, { deadlineMs: this.deadlineMs, ...(access.apiKey ? { apiKey: access.apiKey } : {}), ...(access.tls ? { tls: access.tls } : {}) });
      this.clients.set(key, client);
    }
    return client;
  }

  /**
   * Asks every ready pod for its config; pushes `desired` to each that runs another. A refusal
   * leaves that engine on its config (the engine applies a config whole or not at all).
   */
  async converge(streamKey: string, pods: V1Pod[], grpcPort: number, desiredFor: ((pod: V1Pod) => DesiredConfig) | null, access: EngineAccess = {}): Promise<EngineReport[]> {
    this.useAddresses(streamKey, new Set(pods.filter((p) => p.status?.podIP).map((p) => `${p.status!.podIP}:${grpcPort}`)), access);
    return Promise.all(pods.map(async (pod): Promise<EngineReport> => {
      const base: EngineReport = { name: pod.metadata!.name!, uid: pod.metadata!.uid!, ready: isPodReady(pod), configHash: '', configGeneration: 0, pushed: false };
      const desired = desiredFor?.(pod) ?? null;
      if (desired) base.expectedHash = desired.hash;
      if (!base.ready || !pod.status?.podIP) return base;
      const client = this.client(`${pod.status.podIP}:${grpcPort}`);
      try {
        let view = await client.getConfig();
        let refused: EngineReport['refused'];
        let pushed = false;
        // keys first: a rotation takes effect on every engine in the pass that read it
        if (access.keys && view.keysHash !== access.keys.hash) {
          try {
            await client.setKeys(access.keys.document);
          } catch (e) {
            if (!isRefusal(e)) throw e;
            refused = describeFailure(e);
          }
        }
        if (desired && view.hash !== desired.hash) {
          try {
            view = await client.applyConfig(desired.config as unknown as Record<string, unknown>);
            pushed = true;
          } catch (e) {
            if (!isRefusal(e)) throw e;
            refused = describeFailure(e);
          }
        }
        const rebuilding = backgroundRebuild(view);
        return { ...base, configHash: view.hash, configGeneration: view.generation, pushed, ...rebuilding, ...(refused ? { refused } : {}) };
      } catch (e) {
        return { ...base, unreachable: describeFailure(e).message };
      }
    }));
  }

  /** Records a stream's addresses and closes the clients no stream uses any more. */
  useAddresses(streamKey: string, addresses: Set<string>, access: EngineAccess = {}): void {
    if (addresses.size === 0) this.addressesOf.delete(streamKey);
    else this.addressesOf.set(streamKey, addresses);
    for (const address of addresses) this.accessOf.set(address, access);
    const inUse = new Set([...this.addressesOf.values()].flatMap((s) => [...s]));
    for (const address of this.accessOf.keys()) if (!inUse.has(address)) this.accessOf.delete(address);
    for (const [key, client] of this.clients) {
      const [address] = key.split('#') as [string];
      // a client of an address no stream uses, or made with access the address no longer has
      if (!inUse.has(address) || key !== `${address}#${fingerprint(this.accessOf.get(address) ?? {})}`) {
        client.close();
        this.clients.delete(key);
      }
    }
  }

  close(): void {
    this.addressesOf.clear();
    this.useAddresses('', new Set());
  }
}

/**
 * Index rebuilds the engine still runs in the background: new M / efConstruction, and reshards
 * (a new shard count builds a space's indexes anew) counted together, or nothing when none is left.
 */
function backgroundRebuild(view: EngineConfigView): { indexRebuild?: EngineConfigView['indexRebuild'] } {
  const { indexRebuild: rebuild, reshard } = view;
  const pending = rebuild.spacesPending + reshard.spacesPending;
  if (pending === 0) return {};
  const currentProgress = rebuild.spacesPending > 0 ? rebuild.currentProgress : (reshard.current?.progress ?? 0);
  return { indexRebuild: { spacesPending: pending, spacesTotal: rebuild.spacesTotal, currentProgress } };
}
