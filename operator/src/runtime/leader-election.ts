// Leader election on a coordination.k8s.io Lease, as client-go does it: a candidate takes the
// lease when it is free or when its holder has not renewed it for leaseDuration *as observed on
// this candidate's clock* (the record's own timestamps are for people: clocks differ between
// machines); the leader renews every retryPeriod, and gives up (the process should exit) if it
// cannot renew within renewDeadline. Stopping releases the lease so a successor starts at once.
import * as k8s from '@kubernetes/client-node';
import type { Gauge } from 'prom-client';
import type { Logger } from '@engram/engine/log';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export const DEFAULT_LEASE_TIMING = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 } as const;

export interface LeaderCallbacks {
  onStartedLeading(): void;
  onStoppedLeading(): void;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> => new Promise((resolve) => {
  const onAbort = (): void => {
    clearTimeout(timer);
    resolve();
  };
  const timer = setTimeout(() => {
    signal.removeEventListener('abort', onAbort);
    resolve();
  }, ms);
  signal.addEventListener('abort', onAbort, { once: true });
});

/**
 * A Lease's times are MicroTime (six fractional digits); client-node's typed serializer writes
 * Dates with three, which the API server refuses. So leases are written as apply patches of plain
 * JSON with the times formatted here.
 */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

interface LeaseSpec {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: string;
  renewTime: string;
  leaseTransitions: number;
}

export class LeaderElector {
  private readonly api: k8s.CoordinationV1Api;
  /** The holder and renew time last seen, and when (on our clock) we first saw them. */
  private observed: { record: string; at: number } | null = null;
  private leading = false;
  private readonly abort = new AbortController();
  private loop: Promise<void> = Promise.resolve();

  constructor(
    kc: k8s.KubeConfig,
    private readonly options: LeaderElectionOptions,
    private readonly log: Logger,
    private readonly status: Gauge<'name'>,
    private readonly now: () => number = Date.now,
  ) {
    this.api = kc.makeApiClient(k8s.CoordinationV1Api);
  }

  /** Campaigns, leads, and calls back; returns at once (the loop runs until stop()). */
  run(callbacks: LeaderCallbacks): void {
    this.status.labels({ name: this.options.name }).set(0);
    this.loop = this.campaign(callbacks);
  }

  private async campaign(callbacks: LeaderCallbacks): Promise<void> {
    const { signal } = this.abort;
    while (!signal.aborted && !(await this.tryAcquireOrRenew())) await sleep(this.options.retryPeriodMs, signal);
    if (signal.aborted) return;
    this.setLeading(true);
    this.log.info('became leader', { lease: `${this.options.namespace}/${this.options.name}`, identity: this.options.identity });
    callbacks.onStartedLeading();
    let lastRenew = this.now();
    while (!signal.aborted) {
      await sleep(this.options.retryPeriodMs, signal);
      if (signal.aborted) break;
      if (await this.tryAcquireOrRenew()) {
        lastRenew = this.now();
      } else if (this.now() - lastRenew > this.options.renewDeadlineMs) {
        this.log.error('lost the lease: could not renew it within the renew deadline', { renewDeadlineMs: this.options.renewDeadlineMs });
        this.setLeading(false);
        callbacks.onStoppedLeading();
        return;
      }
    }
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    this.status.labels({ name: this.options.name }).set(leading ? 1 : 0);
  }

  /** One attempt; true if we hold the lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.options;
    const now = microTime(this.now());
    const durationSeconds = Math.ceil(this.options.leaseDurationMs / 1000);
    let lease: k8s.V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (e) {
      if ((e as { code?: number }).code !== 404) return this.failed('reading the lease failed', e);
      // resourceVersion '' would not guard a create; creating fails with 409 if another got there first.
      return this.write(null, { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 });
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const record = `${holder}@${spec.renewTime ? new Date(spec.renewTime).toISOString() : ''}`;
    if (this.observed?.record !== record) this.observed = { record, at: this.now() };
    const heldByOther = holder !== '' && holder !== identity;
    const expired = this.now() > this.observed.at + (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (heldByOther && !expired) return false;
    const renewed = await this.write(lease.metadata?.resourceVersion ?? null, {
      holderIdentity: identity, leaseDurationSeconds: durationSeconds, renewTime: now,
      acquireTime: holder === identity && spec.acquireTime ? microTime(new Date(spec.acquireTime).getTime()) : now,
      leaseTransitions: (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1),
    });
    if (renewed) this.observed = { record: `${identity}@${new Date(now).toISOString()}`, at: this.now() };
    return renewed;
  }

  /**
   * Writes the lease. With a resourceVersion the write is conditional on it (optimistic
   * concurrency: a 409 means another candidate wrote first); without one it creates.
   */
  private async write(resourceVersion: string | null, spec: LeaseSpec): Promise<boolean> {
    const { namespace, name } = this.options;
    const body = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace, ...(resourceVersion ? { resourceVersion } : {}) }, spec };
    try {
      if (resourceVersion) {
        await this.api.patchNamespacedLease({ name, namespace, body, fieldManager: this.options.name, force: true }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply));
      } else {
        // Created without times (the typed create cannot write MicroTime); the next renewal sets them.
        await this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: { holderIdentity: spec.holderIdentity, leaseDurationSeconds: spec.leaseDurationSeconds, leaseTransitions: spec.leaseTransitions } } });
      }
      return true;
    } catch (e) {
      return this.failed(resourceVersion ? 'renewing the lease failed' : 'creating the lease failed', e);
    }
  }

  private failed(what: string, error: unknown): false {
    if ((error as { code?: number }).code !== 409) this.log.warn(what, { error: String(error) });
    return false;
  }

  /** Stops campaigning or leading; a leader releases the lease so a successor need not wait. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    if (!this.leading) return;
    this.setLeading(false);
    try {
      const lease = await this.api.readNamespacedLease({ name: this.options.name, namespace: this.options.namespace });
      const spec = lease.spec;
      if (spec?.holderIdentity !== this.options.identity) return;
      const released = await this.write(lease.metadata?.resourceVersion ?? null, {
        holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(this.now()),
        acquireTime: microTime(spec.acquireTime ? new Date(spec.acquireTime).getTime() : this.now()), leaseTransitions: spec.leaseTransitions ?? 0,
      });
      if (released) this.log.info('released the lease', { lease: `${this.options.namespace}/${this.options.name}` });
    } catch (e) {
      this.log.warn('releasing the lease failed', { error: String(e) });
    }
  }
}
