// Loads engram.proto once, typed by the types proto-loader generates from the same file.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import type { ProtoGrpcType } from '../generated/engram.js';

export const PROTO_PATH = fileURLToPath(new URL('../../proto/engram/v1/engram.proto', import.meta.url));

/** The loader options the generated types were made for (see scripts/generate-proto-types.mjs). */
const LOADER_OPTIONS: protoLoader.Options = { longs: Number, enums: String, defaults: true, oneofs: true };

let definition: protoLoader.PackageDefinition | undefined;
let cached: ProtoGrpcType | undefined;

/** The package definition (with the file descriptors server reflection serves). */
export function engramPackageDefinition(): protoLoader.PackageDefinition {
  definition ??= protoLoader.loadSync(PROTO_PATH, LOADER_OPTIONS);
  return definition;
}

export function loadEngramProto(): ProtoGrpcType {
  cached ??= grpc.loadPackageDefinition(engramPackageDefinition()) as unknown as ProtoGrpcType;
  return cached;
}
