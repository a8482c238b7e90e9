// Every memory space the engine knows, with its vector count, and each tenant's usage summed over
// its spaces (what quotas are checked against).
import { EngramError, quote } from '../errors.js';
import type { Tenants } from './tenants.js';

const SPACE_ID = /^[a-z0-9_-]{3,64}$/;

export function validateSpaceId(id: unknown): string {
  if (typeof id !== 'string' || id.length === 0) {
    throw new EngramError('INVALID_SPACE_ID', 'memory space id is empty');
  }
  if (!SPACE_ID.test(id)) {
    throw new EngramError('INVALID_SPACE_ID', `memory space id ${quote(id)} must be 3-64 characters of [a-z0-9_-]`);
  }
  return id;
}

export interface SpaceRecord {
  readonly id: string;
  /** Vectors stored in the space's index, as last reported by its worker. */
  indexed: number;
  /** Observations accepted for the space and not yet indexed. */
  pending: number;
}

export interface TenantUsage {
  spaces: number;
  /** Indexed plus pending (an upsert of an existing id is counted until it is indexed). */
  vectors: number;
}

export class SpaceDirectory {
  private readonly spaces = new Map<string, SpaceRecord>();
  /** What each tenant stores on the stream's other pods (reported by the operator; empty alone). */
  private elsewhere = new Map<string, TenantUsage>();

  constructor(private readonly tenants: Tenants) {}

  get(id: string): SpaceRecord | undefined {
    return this.spaces.get(id);
  }

  has(id: string): boolean {
    return this.spaces.has(id);
  }

  all(): IterableIterator<SpaceRecord> {
    return this.spaces.values();
  }

  get size(): number {
    return this.spaces.size;
  }

  /** Returns the space, creating it if the owning tenant's space quota allows. */
  open(id: string): SpaceRecord {
    const existing = this.spaces.get(id);
    if (existing) return existing;
    const tenant = this.tenants.tenantOf(id);
    if (tenant.maxSpaces > 0) {
      const used = this.streamUsage(tenant.name).spaces;
      if (used >= tenant.maxSpaces) {
        throw new EngramError('SPACE_QUOTA_EXCEEDED', `tenant '${tenant.name}' already has ${used} of its ${tenant.maxSpaces} memory spaces; cannot create '${id}'`);
      }
    }
    const record: SpaceRecord = { id, indexed: 0, pending: 0 };
    this.spaces.set(id, record);
    return record;
  }

  /** Returns the space, creating it without quota checks: it is being recovered, not created. */
  restore(id: string): SpaceRecord {
    let record = this.spaces.get(id);
    if (!record) {
      record = { id, indexed: 0, pending: 0 };
      this.spaces.set(id, record);
    }
    return record;
  }

  /** Forgets a space (it was handed to another pod of the stream). */
  remove(id: string): void {
    this.spaces.delete(id);
  }

  /** Replaces what tenants store on the stream's other pods. */
  setElsewhere(usage: Map<string, TenantUsage>): void {
    this.elsewhere = usage;
  }

  /** A tenant's usage on the whole stream: here plus on the other pods (what quotas are held to). */
  streamUsage(tenantName: string): TenantUsage {
    const here = this.usage(tenantName);
    const there = this.elsewhere.get(tenantName);
    return there ? { spaces: here.spaces + there.spaces, vectors: here.vectors + there.vectors } : here;
  }

  /** A tenant's usage, summed over the spaces it owns under the current tenant config. */
  usage(tenantName: string): TenantUsage {
    let spaces = 0;
    let vectors = 0;
    for (const record of this.spaces.values()) {
      if (this.tenants.tenantOf(record.id).name !== tenantName) continue;
      spaces++;
      vectors += record.indexed + record.pending;
    }
    return { spaces, vectors };
  }
}
