export { EngramClient, type ClientOptions, type EngineConfigView, type RecallOptions, type StreamOptions } from './engram-client.js';
export { ObservationStream, type ObservationInput, type StreamCounts, type StreamState } from './observation-stream.js';
export { encodeVector, decodeVector } from '../wire/vector-codec.js';
export { RoutingClient } from './routing-client.js';
export { type HandoffView, type TopologyView } from './engram-client.js';
export { Placement, parsePlacement, type PlacementMember, type PlacementSpec } from '../placement/placement.js';
export { ORPHANS_HEADER } from '../placement/membership.js';
export { HashRing } from '../pool/hash-ring.js';
export { certificateName, type ClientTls } from './channel-credentials.js';
