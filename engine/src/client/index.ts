export { EngramClient, type ClientOptions, type EngineConfigView, type RecallOptions, type StreamOptions } from './engram-client.js';
export { ObservationStream, type ObservationInput, type StreamCounts } from './observation-stream.js';
export { encodeVector, decodeVector } from '../wire/vector-codec.js';
