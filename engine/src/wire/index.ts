// The wire format, for tools outside the engine (the benchmarks): the protocol, the vector codec and
// the engine's decoder of observation batches.
export { engramPackageDefinition, loadEngramProto, PROTO_PATH } from './load-proto.js';
export { decodeVector, encodeVector } from './vector-codec.js';
export { decodeClientMessage, withFastObservationBatches } from './observation-batch-decoder.js';
