// The Admin service: read the config, apply a partial config live (admin keys only), read stats
// (a tenant key sees its own spaces only).
import type { Engine, AppliedConfig } from '../engine.js';
import { EngramError } from '../errors.js';
import type { AdminHandlers } from '../generated/engram/v1/Admin.js';
import type { ConfigResponse } from '../generated/engram/v1/ConfigResponse.js';
import type { StatsResponse } from '../generated/engram/v1/StatsResponse.js';
import { respond, toServiceError } from './grpc-errors.js';
import { principalOf } from './authentication.js';
import { reaches } from '../auth/access.js';
import type { Principal } from '../auth/credentials.js';
import type { KeySource } from '../auth/key-source.js';

function configResponse(engine: Engine, applied: AppliedConfig, keys: KeySource | null): ConfigResponse {
  const { spacesPending, current } = engine.reshardStatus();
  return {
    configJson: JSON.stringify(applied.config), configHash: applied.hash, generation: applied.generation, indexRebuild: engine.rebuildStatus(),
    reshard: { spacesPending, currentSpace: current?.space ?? '', currentFrom: current?.from ?? 0, currentTo: current?.to ?? 0, currentProgress: current?.progress ?? 0 },
    keysHash: keys?.documentHash ?? '',
  };
}

function parsePatch(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch (e) {
    throw new EngramError('INVALID_CONFIG', `invalid config: patch_json is not JSON (${(e as Error).message})`);
  }
}

/** The engine's figures; the space list holds only the spaces `principal` reaches (all for admin). */
export function engineStats(engine: Engine, principal: Principal = { kind: 'insecure' }): StatsResponse {
  const { queue, directory } = engine;
  const loads = engine.workerLoads();
  return {
    queueDepth: queue.depth,
    queueCapacity: queue.observationCapacity,
    pressure: queue.pressure,
    activeSessions: engine.sessions.size,
    observationsAccepted: engine.totals.accepted,
    observationsIndexed: engine.totals.indexed,
    observationsRejected: engine.totals.rejected,
    recallsInFlight: queue.recallDepth,
    configHash: engine.applied.hash,
    generation: engine.applied.generation,
    spaces: [...directory.all()].filter((s) => reaches(principal, engine.tenants.tenantOf(s.id).name)).map((s) => {
      const shards = engine.shardsOf(s.id);
      return {
        memorySpace: s.id,
        tenant: engine.tenants.tenantOf(s.id).name,
        worker: shards[0]?.worker ?? 0,
        shards,
        vectors: s.indexed,
        queued: queue.depthOf(s.id),
        owned: engine.membership.owns(s.id),
      };
    }),
    workers: loads.map((w) => ({
      worker: w.id, queued: w.queued, batches: w.batches, indexed: w.indexed,
      utilization: engine.utilization.get(w.id) ?? 0, spaces: w.spaces, stolen: w.stolen,
    })),
  };
}

/** `keys`: the engine's API keys (null when it runs without authentication). */
export function adminHandlers(engine: Engine, keys: KeySource | null): AdminHandlers {
  return {
    GetConfig: (_call, callback) => callback(null, configResponse(engine, engine.applied, keys)),
    ApplyConfig: (call, callback) => {
      Promise.resolve()
        .then(() => engine.applyConfig(parsePatch(call.request.patchJson), call.request.dryRun))
        .then((applied) => callback(null, configResponse(engine, applied, keys)))
        .catch((e: unknown) => callback(toServiceError(e)));
    },
    GetStats: (call, callback) => respond(callback, () => engineStats(engine, principalOf(call))),
    SetKeys: (call, callback) => respond(callback, () => {
      if (!keys) throw new EngramError('AUTHENTICATION_DISABLED', 'this engine runs without authentication (--insecure): restart it with --keys-file to use keys');
      keys.install(call.request.document);
      return { documentHash: keys.documentHash };
    }),
    InjectFault: (call, callback) => {
      try {
        callback(null, { killedWorkers: engine.killWorkers(call.request.killWorkers) });
      } catch (e) {
        callback(toServiceError(e));
      }
    },
  };
}
