// A client that sends each request straight to the pod owning its memory space, instead of
// letting the engine behind a Service forward it: it reads the placement (Cluster.GetTopology)
// from any engine, computes owners with the engine's own ring, and refreshes the placement
// whenever an engine answers SPACE_MOVED (it does so, instead of forwarding, for these requests).
import type * as grpc from '@grpc/grpc-js';
import type { FetchResponse__Output } from '../generated/engram/v1/FetchResponse.js';
import type { RecallResponse__Output } from '../generated/engram/v1/RecallResponse.js';
import { Placement } from '../placement/placement.js';
import { EngramClient, type ClientOptions, type RecallOptions, type StreamOptions } from './engram-client.js';
import type { ObservationStream } from './observation-stream.js';

/** How often one request follows a SPACE_MOVED answer before giving up. */
const MAX_REDIRECTS = 3;

function isMoved(e: unknown): boolean {
  return (e as { metadata?: grpc.Metadata }).metadata?.get('engram-error-code')[0] === 'SPACE_MOVED';
}

export class RoutingClient {
  private readonly clients = new Map<string, EngramClient>();
  private placement: Placement | null = null;

  /** `seed`: any engine of the stream (for example its client Service). */
  constructor(private readonly seed: string, private readonly options: Omit<ClientOptions, 'direct'> = {}) {}

  private client(address: string): EngramClient {
    let client = this.clients.get(address);
    if (!client) {
      client = new EngramClient(address, { ...this.options, direct: true });
      this.clients.set(address, client);
    }
    return client;
  }

  /** Reads the placement again (after SPACE_MOVED, or to pick up a resize). */
  async refresh(): Promise<void> {
    const view = await this.client(this.seed).topology();
    this.placement = view.placement ? new Placement(view.placement) : null;
  }

  /** The address of the pod that owns a space (the seed for a stand-alone engine). */
  async ownerAddress(space: string): Promise<string> {
    if (!this.placement) await this.refresh();
    return this.placement?.ownerOf(space).address ?? this.seed;
  }

  private async routed<T>(space: string, call: (client: EngramClient) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call(this.client(await this.ownerAddress(space)));
      } catch (e) {
        if (!isMoved(e) || attempt >= MAX_REDIRECTS) throw e;
        await this.refresh();
      }
    }
  }

  recall(options: RecallOptions): Promise<RecallResponse__Output> {
    return this.routed(options.memorySpace, (c) => c.recall(options));
  }

  fetch(memorySpace: string, ids: string[]): Promise<FetchResponse__Output> {
    return this.routed(memorySpace, (c) => c.fetch(memorySpace, ids));
  }

  openStream(options: StreamOptions): Promise<ObservationStream> {
    return this.routed(options.memorySpace, (c) => c.openStream(options));
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
