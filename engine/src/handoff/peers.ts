// gRPC clients from this engine to the other engines of its stream (forwarding and hand-offs), one
// channel per address, closed when the address leaves the placement.
import * as grpc from '@grpc/grpc-js';
import type { ClusterClient } from '../generated/engram/v1/Cluster.js';
import type { StreamingClient } from '../generated/engram/v1/Streaming.js';
import { loadEngramProto } from '../wire/load-proto.js';
import { channelCredentials, type ClientTls } from '../client/channel-credentials.js';

export interface Peer {
  streaming: StreamingClient;
  cluster: ClusterClient;
}

export class Peers {
  private readonly peers = new Map<string, Peer>();

  constructor(private readonly maxMessageBytes: number, private readonly tls?: ClientTls) {}

  get(address: string): Peer {
    let peer = this.peers.get(address);
    if (!peer) {
      const proto = loadEngramProto().engram.v1;
      const options: grpc.ChannelOptions = {
        'grpc.max_receive_message_length': this.maxMessageBytes,
        'grpc.max_send_message_length': this.maxMessageBytes,
        'grpc.keepalive_time_ms': 10_000,
        ...(this.tls?.serverName ? { 'grpc.ssl_target_name_override': this.tls.serverName, 'grpc.default_authority': this.tls.serverName } : {}),
      };
      // Calls carry the key of whoever they are made for (a forwarded client, the operator's import).
      const credentials = channelCredentials(this.tls);
      const streaming = new proto.Streaming(address, credentials, options);
      // Both stubs share one channel: a forwarded stream and a hand-off to the same pod use one connection.
      const cluster = new proto.Cluster(address, credentials, { ...options, channelOverride: streaming.getChannel() });
      peer = { streaming, cluster };
      this.peers.set(address, peer);
    }
    return peer;
  }

  /** Closes channels to addresses not in `keep`. */
  retain(keep: Set<string>): void {
    for (const [address, peer] of this.peers) {
      if (keep.has(address)) continue;
      peer.streaming.close();
      this.peers.delete(address);
    }
  }

  close(): void {
    this.retain(new Set());
  }
}
