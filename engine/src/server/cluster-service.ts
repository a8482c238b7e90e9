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
import { isAdmin, reaches } from '../auth/access.js';
import type { Principal } from '../auth/credentials.js';
import { callerAuthorization, principalOf } from './authentication.js';
import { respond } from './grpc-errors.js';

/** The placement; a tenant's view lists pinned spaces of its own only (space names are tenant data). */
function topology(engine: Engine, principal: Principal = { kind: 'insecure' }): Topology {
  const { membership } = engine;
  const full = membership.placement?.spec;
  const spec = full && !isAdmin(principal)
    ? { ...full, assignments: Object.fromEntries(Object.entries(full.assignments).filter(([space]) => reaches(principal, engine.tenants.tenantOf(space).name))) }
    : full;
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
    GetTopology: (call, callback) => respond(callback, () => topology(engine, principalOf(call))),
    ApplyPlacement: (call, callback) => respond(callback, async () => {
      const placement = parsePlacement(call.request.placementJson);
      await engine.applyPlacement(placement);
      peers.retain(new Set(placement.spec.members.map((m) => m.address)));
      engine.metrics.placementGeneration.set(placement.generation);
      return topology(engine);
    }),
    ExportSpace: (call: grpc.ServerDuplexStream<ExportRequest__Output, ExportChunk>) => new SpaceExport(engine, call).start(),
    // The import pulls from the source with the caller's (the operator's admin) key.
    StartImport: (call, callback) => respond(callback, () => imports.start(call.request.memorySpace, call.request.sourceAddress, call.request.handoffId, callerAuthorization(call))),
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
