// The Cluster service: the placement of memory spaces over the stream's pods (read by clients,
// installed by the operator) and the hand-offs that move spaces between pods.
import type * as grpc from '@grpc/grpc-js';
import type { Engine } from '../engine.js';
import type { ClusterHandlers } from '../generated/engram/v1/Cluster.js';
import type { ExportChunk } from '../generated/engram/v1/ExportChunk.js';
import type { ExportRequest__Output } from '../generated/engram/v1/ExportRequest.js';
import type { Topology } from '../generated/engram/v1/Topology.js';
import type { Imports } from '../handoff/imports.js';
import type { Peers } from '../handoff/peers.js';
import { SpaceExport } from '../handoff/space-export.js';
import { parsePlacement } from '../placement/placement.js';
import { validateSpaceId } from '../tenancy/space-directory.js';
import { respond } from './grpc-errors.js';

function topology(engine: Engine): Topology {
  const { membership } = engine;
  const spec = membership.placement?.spec;
  return {
    placementJson: spec ? JSON.stringify(spec) : '',
    generation: membership.generation,
    members: spec?.members ?? [],
    self: membership.self ?? '',
    confirmed: membership.confirmed,
  };
}

export function clusterHandlers(engine: Engine, peers: Peers, imports: Imports): ClusterHandlers {
  return {
    GetTopology: (_call, callback) => respond(callback, () => topology(engine)),
    ApplyPlacement: (call, callback) => respond(callback, async () => {
      const placement = parsePlacement(call.request.placementJson);
      await engine.applyPlacement(placement);
      peers.retain(new Set(placement.spec.members.map((m) => m.address)));
      engine.metrics.placementGeneration.set(placement.generation);
      return topology(engine);
    }),
    ExportSpace: (call: grpc.ServerDuplexStream<ExportRequest__Output, ExportChunk>) => new SpaceExport(engine, call).start(),
    StartImport: (call, callback) => respond(callback, () => imports.start(call.request.memorySpace, call.request.sourceAddress, call.request.handoffId)),
    GetHandoffs: (_call, callback) => respond(callback, () => ({ imports: imports.list(), sealed: engine.membership.sealed() })),
    ReleaseSpace: (call, callback) => respond(callback, async () => ({ droppedVectors: await engine.releaseSpace(validateSpaceId(call.request.memorySpace)) })),
    ReopenSpace: (call, callback) => respond(callback, () => ({ wasFenced: engine.reopenSpace(validateSpaceId(call.request.memorySpace)) })),
    SetStreamUsage: (call, callback) => respond(callback, () => {
      const usage = new Map(Object.entries(call.request.tenants).map(([tenant, u]) => [tenant, { vectors: Number(u.vectors), spaces: u.spaces }]));
      engine.directory.setElsewhere(usage);
      return {};
    }),
  };
}
