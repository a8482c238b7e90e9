// The operator's side of the seam to running engines: it asks each ready engine pod which config it
// runs (the engine's own hash, never assumed) and pushes the desired config to those that differ,
// through the engine's own client. One client per pod address, closed when the pod goes.
import type { V1Pod } from '@kubernetes/client-node';
import { EngramClient } from '@engram/engine/client';
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
  private readonly clients = new Map<string, EngramClient>();
  /** Addresses each stream's last pass used, so clients of replaced pods are closed. */
  private readonly addressesOf = new Map<string, Set<string>>();

  constructor(private readonly deadlineMs = 5000) {}

  /** The client of the engine at `address` (shared by config pushes and placement). */
  client(address: string): EngramClient {
    let client = this.clients.get(address);
    if (!client) {
      client = new EngramClient(address, { deadlineMs: this.deadlineMs });
      this.clients.set(address, client);
    }
    return client;
  }

  /**
   * Asks every ready pod for its config; pushes `desired` to each that runs another. A refusal
   * leaves that engine on its config (the engine applies a config whole or not at all).
   */
  async converge(streamKey: string, pods: V1Pod[], grpcPort: number, desiredFor: ((pod: V1Pod) => DesiredConfig) | null): Promise<EngineReport[]> {
    this.useAddresses(streamKey, new Set(pods.filter((p) => p.status?.podIP).map((p) => `${p.status!.podIP}:${grpcPort}`)));
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
        if (desired && view.hash !== desired.hash) {
          try {
            view = await client.applyConfig(desired.config as unknown as Record<string, unknown>);
            pushed = true;
          } catch (e) {
            if (!isRefusal(e)) throw e;
            refused = describeFailure(e);
          }
        }
        const rebuilding = view.indexRebuild.spacesPending > 0 ? { indexRebuild: view.indexRebuild } : {};
        return { ...base, configHash: view.hash, configGeneration: view.generation, pushed, ...rebuilding, ...(refused ? { refused } : {}) };
      } catch (e) {
        return { ...base, unreachable: describeFailure(e).message };
      }
    }));
  }

  /** Records a stream's addresses and closes the clients no stream uses any more. */
  useAddresses(streamKey: string, addresses: Set<string>): void {
    if (addresses.size === 0) this.addressesOf.delete(streamKey);
    else this.addressesOf.set(streamKey, addresses);
    const inUse = new Set([...this.addressesOf.values()].flatMap((s) => [...s]));
    for (const [address, client] of this.clients) {
      if (!inUse.has(address)) {
        client.close();
        this.clients.delete(address);
      }
    }
  }

  close(): void {
    this.addressesOf.clear();
    this.useAddresses('', new Set());
  }
}
