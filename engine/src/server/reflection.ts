// gRPC server reflection (v1 and v1alpha, @grpc/reflection), so grpcurl and other generic tools can
// list, describe and call the services. protobufjs describes a map field's entry type as a nested
// message named after the field ("Metadata", referred to by that relative name), where protoc
// names it "MetadataEntry" and refers to it by its full name; Go's protobuf runtime (grpcurl's)
// refuses the former as "an invalid map: incorrect implicit map entry name" (grpcurl issue 519).
// The descriptors are put in protoc's form before they are served.
import type * as grpc from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import descriptor from 'protobufjs/ext/descriptor/index.js';

interface MessageDescriptor {
  name?: string;
  field?: Array<{ name?: string; typeName?: string }>;
  nestedType?: MessageDescriptor[];
  options?: { mapEntry?: boolean } | null;
}

/** `metadata_tags` → `MetadataTagsEntry`, as protoc names a map field's entry. */
function entryName(field: string): string {
  return `${field.split('_').map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('')}Entry`;
}

function fixMapEntries(message: MessageDescriptor, scope: string): void {
  const full = `${scope}.${message.name ?? ''}`;
  for (const nested of message.nestedType ?? []) {
    if (!nested.options?.mapEntry) continue;
    const field = message.field?.find((f) => f.typeName === nested.name || f.typeName === `${full}.${nested.name}`);
    if (!field?.name) continue;
    nested.name = entryName(field.name);
    field.typeName = `${full}.${nested.name}`;
  }
  for (const nested of message.nestedType ?? []) fixMapEntries(nested, full);
}

function protocForm(bytes: Buffer): Buffer {
  const file = descriptor.FileDescriptorProto.decode(bytes) as unknown as { package?: string; messageType?: MessageDescriptor[] };
  for (const message of file.messageType ?? []) fixMapEntries(message, file.package ? `.${file.package}` : '');
  return Buffer.from(descriptor.FileDescriptorProto.encode(file as never).finish());
}

export function addReflectionService(server: grpc.Server, definition: PackageDefinition): void {
  const fixed: PackageDefinition = {};
  for (const [name, entry] of Object.entries(definition)) {
    const protos = (entry as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos;
    fixed[name] = (protos ? { ...entry, fileDescriptorProtos: protos.map(protocForm) } : entry) as PackageDefinition[string];
  }
  new ReflectionService(fixed).addToServer(server);
}
