// The typed client for an engine: observation streams, recall and admin, over one channel. The
// CLI, the benchmarks, the tests and the operator all reach engines through this class.
import * as grpc from '@grpc/grpc-js';
import type { AdminClient } from '../generated/engram/v1/Admin.js';
import type { ClusterClient } from '../generated/engram/v1/Cluster.js';
import type { HandoffStatus__Output } from '../generated/engram/v1/HandoffStatus.js';
import type { HandoffsResponse__Output } from '../generated/engram/v1/HandoffsResponse.js';
import type { Topology__Output } from '../generated/engram/v1/Topology.js';
import type { PlacementSpec } from '../placement/placement.js';
import type { ConfigResponse__Output } from '../generated/engram/v1/ConfigResponse.js';
import type { FetchResponse__Output } from '../generated/engram/v1/FetchResponse.js';
import type { RecallResponse__Output } from '../generated/engram/v1/RecallResponse.js';
import type { ServerMessage__Output } from '../generated/engram/v1/ServerMessage.js';
import type { StatsResponse__Output } from '../generated/engram/v1/StatsResponse.js';
import type { StreamingClient } from '../generated/engram/v1/Streaming.js';
import { loadEngramProto } from '../wire/load-proto.js';
import { encodeVector } from '../wire/vector-codec.js';
import { DEFAULT_REPLY_TIMEOUT_MS, ObservationStream } from './observation-stream.js';
import { bearerInterceptor, channelCredentials, type ClientTls } from './channel-credentials.js';

export type { ClientTls } from './channel-credentials.js';

export interface ClientOptions {
  maxMessageBytes?: number;
  /** Default deadline for unary calls. */
  deadlineMs?: number;
  /**
   * Ask engines not to forward: a request for a space another pod owns fails with SPACE_MOVED and
   * the owner's address (what RoutingClient uses to go straight to owners).
   */
  direct?: boolean;
  /** An API key, sent on every call as `authorization: Bearer <key>`. */
  apiKey?: string;
  /** Connect with TLS (PEM contents, not paths); without it the channel is plaintext. */
  tls?: ClientTls;
}


/** One memory space's hand-off into an engine, as that engine reports it. */
export interface HandoffView {
  memorySpace: string;
  handoffId: string;
  sourceAddress: string;
  phase: 'copying' | 'catching_up' | 'sealing' | 'verified' | 'failed';
  bytes: number;
  records: number;
  error: string;
  seconds: number;
  writePauseSeconds: number;
  count: number;
  checksum: string;
}

export interface TopologyView {
  placement: PlacementSpec | null;
  generation: number;
  self: string;
  confirmed: boolean;
}

export interface StreamOptions {
  memorySpace: string;
  tenant?: string;
  honoursBackpressure?: boolean;
  /** Observations per wire message (default 256). */
  maxBatch?: number;
  /** Unaccepted observations the client holds before `send` waits (default 8 x maxBatch). */
  maxInFlight?: number;
  /**
   * How long the init or a batch may go unanswered before the stream fails (default 30 s, 0 =
   * wait forever): an engine that holds a batch and never answers does not hang the writer.
   */
  replyTimeoutMs?: number;
}

export interface RecallOptions {
  memorySpace: string;
  vector: Float32Array | number[];
  k: number;
  ef?: number;
  minSimilarity?: number;
  deadlineMs?: number;
}

export interface EngineConfigView {
  config: Record<string, unknown>;
  hash: string;
  generation: number;
  /** Background index rebuilds still to do before every space is served by the config's M / ef_construction. */
  indexRebuild: { spacesPending: number; spacesTotal: number; currentProgress: number };
  /** Hash of the API key document in force ('' without authentication). */
  keysHash: string;
  /** Live reshards still to do before every space has the shard count the config gives it. */
  reshard: { spacesPending: number; current: { space: string; from: number; to: number; progress: number } | null };
}

const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

function unary<T>(invoke: (callback: grpc.requestCallback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => invoke((error, value) => (error ? reject(error) : resolve(value as T))));
}

function configView(r: ConfigResponse__Output): EngineConfigView {
  const rebuild = r.indexRebuild;
  return {
    config: JSON.parse(r.configJson) as Record<string, unknown>, hash: r.configHash, generation: Number(r.generation), keysHash: r.keysHash,
    indexRebuild: { spacesPending: rebuild?.spacesPending ?? 0, spacesTotal: rebuild?.spacesTotal ?? 0, currentProgress: rebuild?.currentProgress ?? 0 },
    reshard: {
      spacesPending: r.reshard?.spacesPending ?? 0,
      current: r.reshard?.currentSpace ? { space: r.reshard.currentSpace, from: r.reshard.currentFrom, to: r.reshard.currentTo, progress: r.reshard.currentProgress } : null,
    },
  };
}

function handoffView(h: HandoffStatus__Output): HandoffView {
  return { ...h, phase: h.phase as HandoffView['phase'], bytes: Number(h.bytes), records: Number(h.records), count: Number(h.count) };
}

export class EngramClient {
  private readonly streaming: StreamingClient;
  private readonly admin: AdminClient;
  private readonly cluster: ClusterClient;
  private readonly deadlineMs: number;
  private readonly metadata: () => grpc.Metadata;

  constructor(readonly address: string, options: ClientOptions = {}) {
    const proto = loadEngramProto();
    const max = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    // A larger receive window than HTTP/2's 64 KiB default, so acks and recall answers never wait
    // for a WINDOW_UPDATE round trip.
    const channelOptions: grpc.ClientOptions = {
      'grpc.max_receive_message_length': max, 'grpc.max_send_message_length': max, 'grpc-node.flow_control_window': 8 * 1024 * 1024,
      ...(options.tls?.serverName ? { 'grpc.ssl_target_name_override': options.tls.serverName, 'grpc.default_authority': options.tls.serverName } : {}),
      // grpc-js sends call credentials on TLS channels only; an interceptor sends the key on both
      ...(options.apiKey ? { interceptors: [bearerInterceptor(options.apiKey)] } : {}),
    };
    const credentials = channelCredentials(options.tls);
    this.streaming = new proto.engram.v1.Streaming(address, credentials, channelOptions);
    this.admin = new proto.engram.v1.Admin(address, credentials, { ...channelOptions, channelOverride: this.streaming.getChannel() });
    this.cluster = new proto.engram.v1.Cluster(address, credentials, { ...channelOptions, channelOverride: this.streaming.getChannel() });
    this.deadlineMs = options.deadlineMs ?? 10_000;
    this.metadata = () => {
      const metadata = new grpc.Metadata();
      if (options.direct) metadata.set('engram-route', 'direct');
      return metadata;
    };
  }

  private deadline(ms?: number): grpc.CallOptions {
    return { deadline: Date.now() + (ms ?? this.deadlineMs) };
  }

  /** Opens a session on a memory space; resolves once the engine has answered init. */
  openStream(options: StreamOptions): Promise<ObservationStream> {
    const maxBatch = options.maxBatch ?? 256;
    const call = this.streaming.ObserveStream(this.metadata());
    call.write({
      init: {
        memorySpace: options.memorySpace, tenant: options.tenant ?? '', honoursBackpressure: options.honoursBackpressure ?? true,
        maxBatchSize: maxBatch, clientBufferSize: options.maxInFlight ?? maxBatch * 8,
      },
    });
    const replyTimeoutMs = options.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        if (unanswered) clearTimeout(unanswered);
        call.removeListener('data', onData);
        call.removeListener('error', onError);
      };
      const onData = (m: ServerMessage__Output): void => {
        if (!m.initAck) return;
        settle();
        const batch = Math.min(maxBatch, m.initAck.capabilities?.maxBatchSize || maxBatch);
        resolve(new ObservationStream(call, m.initAck, batch, options.maxInFlight ?? batch * 8, replyTimeoutMs));
      };
      const onError = (e: Error): void => {
        settle();
        reject(e);
      };
      const unanswered = replyTimeoutMs > 0 ? setTimeout(() => {
        settle();
        call.on('error', () => undefined); // the CANCELLED that follows
        call.cancel();
        reject(new Error(`the engine did not answer the stream's init for memory space '${options.memorySpace}' in ${replyTimeoutMs / 1000} s; the stream is cancelled`));
      }, replyTimeoutMs) : null;
      call.on('data', onData);
      call.once('error', onError);
    });
  }

  async recall(options: RecallOptions): Promise<RecallResponse__Output> {
    const request = {
      memorySpace: options.memorySpace, vector: encodeVector(options.vector), k: options.k, ef: options.ef ?? 0,
      minSimilarity: options.minSimilarity ?? 0, hasMinSimilarity: options.minSimilarity !== undefined,
    };
    return unary((cb) => this.streaming.Recall(request, this.metadata(), this.deadline(options.deadlineMs), cb));
  }

  /** Exact lookup by id: the observations the space holds, and the ids it does not. */
  async fetch(memorySpace: string, ids: string[]): Promise<FetchResponse__Output> {
    return unary((cb) => this.streaming.Fetch({ memorySpace, ids }, this.metadata(), this.deadline(), cb));
  }

  async getConfig(): Promise<EngineConfigView> {
    return configView(await unary<ConfigResponse__Output>((cb) => this.admin.GetConfig({}, this.deadline(), cb)));
  }

  /** Applies a partial config live; returns the effective config with its hash and generation. */
  async applyConfig(patch: Record<string, unknown>, options: { dryRun?: boolean; deadlineMs?: number } = {}): Promise<EngineConfigView> {
    const response = await unary<ConfigResponse__Output>((cb) => this.admin.ApplyConfig(
      { patchJson: JSON.stringify(patch), dryRun: options.dryRun ?? false }, this.deadline(options.deadlineMs ?? 60_000), cb));
    return configView(response);
  }

  /** Installs an API key document (see Admin.SetKeys); returns the hash the engine now reports. */
  async setKeys(document: string): Promise<string> {
    const r = await unary<{ documentHash: string }>((cb) => this.admin.SetKeys({ document }, this.deadline(), cb));
    return r.documentHash;
  }

  /** Terminates worker threads abruptly (needs an engine started with --enable-fault-injection). */
  async killWorkers(workers: number[]): Promise<number[]> {
    const response = await unary<{ killedWorkers: number[] }>((cb) => this.admin.InjectFault({ killWorkers: workers }, this.deadline(), cb));
    return response.killedWorkers;
  }

  stats(): Promise<StatsResponse__Output> {
    return unary((cb) => this.admin.GetStats({}, this.deadline(), cb));
  }

  /** The placement this engine routes by (null for a stand-alone engine). */
  async topology(): Promise<TopologyView> {
    const t = await unary<Topology__Output>((cb) => this.cluster.GetTopology({}, this.deadline(), cb));
    return { placement: t.placementJson ? JSON.parse(t.placementJson) as PlacementSpec : null, generation: Number(t.generation), self: t.self, confirmed: t.confirmed };
  }

  /** Installs a placement (the operator's job). */
  async applyPlacement(placement: PlacementSpec): Promise<TopologyView> {
    await unary<Topology__Output>((cb) => this.cluster.ApplyPlacement({ placementJson: JSON.stringify(placement) }, this.deadline(), cb));
    return this.topology();
  }

  /** Asks this engine to copy a space from the pod at `sourceAddress` (idempotent per hand-off id). */
  async startImport(memorySpace: string, sourceAddress: string, handoffId: string): Promise<HandoffView> {
    return handoffView(await unary<HandoffStatus__Output>((cb) => this.cluster.StartImport({ memorySpace, sourceAddress, handoffId }, this.deadline(), cb)));
  }

  async handoffs(): Promise<{ imports: HandoffView[]; sealed: string[] }> {
    const r = await unary<HandoffsResponse__Output>((cb) => this.cluster.GetHandoffs({}, this.deadline(), cb));
    return { imports: r.imports.map(handoffView), sealed: r.sealed };
  }

  /** Tells the engine what each tenant stores on the stream's other pods (its quotas count it). */
  async setStreamUsage(tenants: Record<string, { vectors: number; spaces: number }>): Promise<void> {
    await unary((cb) => this.cluster.SetStreamUsage({ tenants }, this.deadline(), cb));
  }

  /** Drops a space this engine holds but no longer owns. */
  async releaseSpace(memorySpace: string): Promise<number> {
    const r = await unary<{ droppedVectors: number }>((cb) => this.cluster.ReleaseSpace({ memorySpace }, this.deadline(), cb));
    return Number(r.droppedVectors);
  }

  /** Lifts the fence or seal of a space whose hand-off was given up; true if there was one. */
  async reopenSpace(memorySpace: string): Promise<boolean> {
    const r = await unary<{ wasFenced: boolean }>((cb) => this.cluster.ReopenSpace({ memorySpace }, this.deadline(), cb));
    return r.wasFenced;
  }

  close(): void {
    this.streaming.close();
    this.admin.close();
    this.cluster.close();
  }
}
