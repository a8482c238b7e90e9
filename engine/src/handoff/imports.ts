// The hand-offs this engine takes in, one per memory space: started (idempotently, by hand-off
// id) by the operator, listed for it to poll, and forgotten a while after they end.
import type { Engine } from '../engine.js';
import { EngramError } from '../errors.js';
import type { HandoffStatus } from '../generated/engram/v1/HandoffStatus.js';
import { isHostPort } from '../placement/placement.js';
import { validateSpaceId } from '../tenancy/space-directory.js';
import type { Peers } from './peers.js';
import { SpaceImport } from './space-import.js';

/** Ended imports are listed this long, so the operator sees how each ended. */
const KEEP_ENDED_MS = 10 * 60_000;

export class Imports {
  private readonly bySpace = new Map<string, { job: SpaceImport; endedAt: number | null }>();

  constructor(private readonly engine: Engine, private readonly peers: Peers) {}

  /** `authorization`: the header the import presents to the source (the caller's admin key), or null. */
  start(spaceId: string, sourceAddress: string, handoffId: string, authorization: string | null = null): HandoffStatus {
    const space = validateSpaceId(spaceId);
    if (!isHostPort(sourceAddress)) throw new EngramError('INVALID_ARGUMENT', `source_address must be host:port, got '${sourceAddress.slice(0, 64)}'`);
    if (!handoffId) throw new EngramError('INVALID_ARGUMENT', 'handoff_id must be set');
    if (this.engine.membership.owns(space) && this.engine.membership.placement) {
      throw new EngramError('SPACE_OWNED', `memory space '${space}' is already owned by this engine (placement generation ${this.engine.membership.generation})`);
    }
    const current = this.bySpace.get(space);
    if (current?.job.handoffId === handoffId) return current.job.status;
    current?.job.cancel();
    const job = new SpaceImport(this.engine, this.peers, space, sourceAddress, handoffId, authorization);
    const entry = { job, endedAt: null as number | null };
    this.bySpace.set(space, entry);
    void job.done.then(() => {
      entry.endedAt = Date.now();
    });
    return job.status;
  }

  list(): HandoffStatus[] {
    const now = Date.now();
    for (const [space, { endedAt }] of this.bySpace) if (endedAt !== null && now - endedAt > KEEP_ENDED_MS) this.bySpace.delete(space);
    return [...this.bySpace.values()].map(({ job }) => job.status);
  }

  /** Stops every running import (the engine is shutting down). */
  close(): void {
    for (const { job } of this.bySpace.values()) job.cancel();
  }
}
