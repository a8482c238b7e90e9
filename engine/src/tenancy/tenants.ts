// Tenants own memory spaces (by exact id or prefix) and carry a rate limit and quotas. Spaces that
// no tenant claims belong to the unlimited `default` tenant.
import type { TenantConfig } from '../config/engine-config.js';
import { RETRY_AFTER_BOUNDS_MS } from '../queue/pressure.js';
import { TokenBucket } from './token-bucket.js';

export const DEFAULT_TENANT: Readonly<TenantConfig> = {
  name: 'default', spaces: [], rateLimit: 0, burst: 0, maxVectors: 0, maxSpaces: 0,
};

function claims(tenant: TenantConfig, space: string): boolean {
  return tenant.spaces.some((p) => (p.endsWith('*') ? space.startsWith(p.slice(0, -1)) : p === space));
}

/**
 * How long a tenant over its rate waits at most for tokens promised to it: within this an observation
 * is held (its stream not read meanwhile) and accepted late, at the tenant's rate, so a client
 * sending too fast is slowed by gRPC's flow control instead of sending, being parsed and being
 * refused again and again on the engine's main thread, which its neighbours share. Beyond it, the
 * rest is refused with a retry time.
 */
export const MAX_RATE_DELAY_MS = 2000;

export interface RateDecision {
  /** How many of the requested observations the tenant may send; their tokens are taken. */
  allowed: number;
  /** How long they wait for those tokens first (0: accepted now). */
  delayMs: number;
  /** When `allowed` is short: milliseconds until tokens for the rest are there (at most a full bucket's worth). */
  retryAfterMs: number;
}

export class Tenants {
  private tenants: TenantConfig[] = [];
  private readonly buckets = new Map<string, TokenBucket>();
  /**
   * Per tenant: until when the retry hints already given have promised its tokens away. Each
   * refusal gets the next slot after them, so a tenant's streams, told to come back, come back one
   * after the other at its rate instead of all at once (to be refused again, after being parsed).
   */
  private readonly promisedUntil = new Map<string, number>();
  private readonly ownerCache = new Map<string, TenantConfig>();
  /**
   * The share of each tenant's rate limit this engine enforces: 1 alone, 1/N as one of the N pods
   * on its stream's ring (a tenant's spaces spread over the ring, so its traffic does too).
   */
  private share = 1;

  constructor(tenants: TenantConfig[], private readonly now: () => number) {
    this.reconfigure(tenants);
  }

  /** Sets this engine's share of every tenant's rate limit (and burst), keeping earned tokens. */
  setShare(share: number): void {
    if (share === this.share) return;
    this.share = share;
    this.reconfigure(this.tenants);
  }

  /** The observations/s this engine admits for the tenant (its rate limit times the share). */
  localRate(tenant: TenantConfig): number {
    return tenant.rateLimit * this.share;
  }

  get pods(): number {
    return Math.round(1 / this.share);
  }

  /** Replaces the tenant list live; a tenant that stays keeps the tokens its bucket holds. */
  reconfigure(tenants: TenantConfig[]): void {
    this.tenants = tenants;
    this.ownerCache.clear();
    const names = new Set(tenants.map((t) => t.name));
    for (const name of this.buckets.keys()) if (!names.has(name)) this.buckets.delete(name);
    for (const name of this.promisedUntil.keys()) if (!names.has(name)) this.promisedUntil.delete(name);
    for (const t of tenants) {
      if (t.rateLimit <= 0) {
        this.buckets.delete(t.name);
        continue;
      }
      const rate = t.rateLimit * this.share;
      const burst = Math.max(1, Math.ceil((t.burst > 0 ? t.burst : t.rateLimit) * this.share));
      const bucket = this.buckets.get(t.name);
      if (bucket) bucket.reconfigure(rate, burst);
      else this.buckets.set(t.name, new TokenBucket(rate, burst, this.now()));
    }
  }

  list(): readonly TenantConfig[] {
    return this.tenants;
  }

  tenantOf(space: string): TenantConfig {
    let owner = this.ownerCache.get(space);
    if (!owner) {
      owner = this.tenants.find((t) => claims(t, space)) ?? DEFAULT_TENANT;
      this.ownerCache.set(space, owner);
    }
    return owner;
  }

  /**
   * Takes the tenant's tokens for as many of `requested` observations as it earns within
   * MAX_RATE_DELAY_MS (they wait `delayMs`), and gives the rest a retry time.
   */
  reserveRate(tenant: TenantConfig, requested: number): RateDecision {
    const bucket = this.buckets.get(tenant.name);
    if (!bucket) return { allowed: requested, delayMs: 0, retryAfterMs: 0 };
    const now = this.now();
    const { taken, delayMs } = bucket.reserve(now, requested, MAX_RATE_DELAY_MS);
    // Wait for what the refused part needs, not for one token: a client told '1 ms' spins.
    const refused = requested - taken;
    if (refused === 0) return { allowed: taken, delayMs, retryAfterMs: 0 };
    const start = Math.max(now + Math.max(RETRY_AFTER_BOUNDS_MS.min, bucket.waitMs(now, refused)), this.promisedUntil.get(tenant.name) ?? 0);
    this.promisedUntil.set(tenant.name, start + bucket.msToEarn(refused));
    return { allowed: taken, delayMs, retryAfterMs: Math.min(RETRY_AFTER_BOUNDS_MS.max, Math.ceil(start - now)) };
  }

  /** Gives back tokens reserved for observations that were not accepted after all. */
  refund(tenant: TenantConfig, count: number): void {
    if (count > 0) this.buckets.get(tenant.name)?.giveBack(count);
  }
}
