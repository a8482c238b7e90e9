// An informer: a local cache of one kind kept current by list + watch, telling handlers what
// changed. Unlike client-node's ListWatch it never stops on its own: a failed list or watch is
// retried with backoff, a watch that ends is resumed from the last resourceVersion, an expired one
// (410) relists, and a full relist every `relistIntervalMs` catches anything a watch missed — after
// which every object is handed to the handlers again (controller-runtime's periodic resync).
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '@engram/engine/log';

export type InformerEvent = 'add' | 'update' | 'delete' | 'resync';
export type InformerHandler<T> = (event: InformerEvent, object: T) => void;

export interface InformerOptions {
  apiVersion: string;
  kind: string;
  /** Lower-case plural used in the watch path. */
  plural: string;
  namespace?: string;
  labelSelector?: string;
  relistIntervalMs?: number;
  /** Watches are closed and resumed by the server after this long. */
  watchTimeoutSeconds?: number;
}

const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 30_000;

export function objectKey(o: k8s.KubernetesObject): string {
  return o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : `${o.metadata?.name}`;
}

export class Informer<T extends k8s.KubernetesObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: Array<InformerHandler<T>> = [];
  private readonly objects: k8s.KubernetesObjectApi;
  private readonly watch: k8s.Watch;
  private resourceVersion = '';
  private watchAbort: AbortController | null = null;
  private stopped = false;
  private failures = 0;
  private synced = false;
  private relistRequested = false;
  private relistTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(kc: k8s.KubeConfig, private readonly options: InformerOptions, private readonly log: Logger) {
    this.objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    this.watch = new k8s.Watch(kc);
  }

  on(handler: InformerHandler<T>): void {
    this.handlers.push(handler);
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  /** True once the first list has filled the cache. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Starts; resolves after the first successful list (retrying until then). */
  async start(): Promise<void> {
    this.stopped = false;
    while (!this.stopped && !(await this.relist())) await this.sleepBackoff();
    if (this.stopped) return;
    this.relistTimer = setInterval(() => this.periodicRelist(), this.options.relistIntervalMs ?? 10 * 60_000);
    this.relistTimer.unref();
    void this.startWatch();
  }

  stop(): void {
    this.stopped = true;
    if (this.relistTimer) clearInterval(this.relistTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.watchAbort?.abort();
  }

  private path(): string {
    const { apiVersion, namespace, plural } = this.options;
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    return namespace ? `${base}/namespaces/${namespace}/${plural}` : `${base}/${plural}`;
  }

  /** Lists and replaces the cache, telling handlers about every difference. False on failure. */
  private async relist(): Promise<boolean> {
    try {
      const { apiVersion, kind, namespace, labelSelector } = this.options;
      const list = await this.objects.list<T>(apiVersion, kind, namespace, undefined, undefined, undefined, undefined, labelSelector);
      const seen = new Set<string>();
      for (const item of list.items) {
        // Items of a list carry no apiVersion/kind; handlers and appliers want them.
        const object = { ...item, apiVersion, kind } as T;
        const key = objectKey(object);
        seen.add(key);
        this.upsert(key, object, true);
      }
      for (const [key, old] of this.cache) {
        if (!seen.has(key)) {
          this.cache.delete(key);
          this.emit('delete', old);
        }
      }
      this.resourceVersion = list.metadata?.resourceVersion ?? '';
      this.synced = true;
      this.failures = 0;
      return true;
    } catch (e) {
      this.log.warn('informer list failed', { kind: this.options.kind, error: String(e) });
      return false;
    }
  }

  private upsert(key: string, object: T, fromList: boolean): void {
    const old = this.cache.get(key);
    this.cache.set(key, object);
    if (!old) this.emit('add', object);
    else if (old.metadata?.resourceVersion !== object.metadata?.resourceVersion) this.emit('update', object);
    else if (fromList) this.emit('resync', object);
  }

  private emit(event: InformerEvent, object: T): void {
    for (const h of this.handlers) {
      try {
        h(event, object);
      } catch (e) {
        this.log.error('informer handler threw', { kind: this.options.kind, error: String(e) });
      }
    }
  }

  private async startWatch(): Promise<void> {
    if (this.stopped) return;
    const query: Record<string, string | number | boolean> = {
      resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: this.options.watchTimeoutSeconds ?? 300,
    };
    if (this.options.labelSelector) query.labelSelector = this.options.labelSelector;
    try {
      this.watchAbort = await this.watch.watch(this.path(), query, (phase, object: T) => this.onWatchEvent(phase, object),
        (err: unknown) => void this.onWatchDone(err));
    } catch (e) {
      await this.onWatchDone(e);
    }
  }

  private onWatchEvent(phase: string, object: T): void {
    if (phase === 'ERROR') {
      // 410 Gone: our resourceVersion is too old; the watch ends and onWatchDone relists.
      if ((object as unknown as { code?: number }).code === 410) this.resourceVersion = '';
      return;
    }
    this.resourceVersion = object.metadata?.resourceVersion ?? this.resourceVersion;
    if (phase === 'BOOKMARK') return;
    const key = objectKey(object);
    if (phase === 'DELETED') {
      this.cache.delete(key);
      this.emit('delete', object);
    } else {
      this.upsert(key, object, false);
    }
  }

  private async onWatchDone(err: unknown): Promise<void> {
    this.watchAbort = null;
    if (this.stopped) return;
    const requested = this.relistRequested;
    this.relistRequested = false;
    const gone = requested || (err as { statusCode?: number; code?: number } | null)?.statusCode === 410 || (err as { code?: number } | null)?.code === 410;
    if (err && !gone) {
      this.log.warn('informer watch failed', { kind: this.options.kind, error: String(err) });
      await this.sleepBackoff();
    } else {
      this.failures = 0;
    }
    // After a failure, list again instead of resuming from the last resourceVersion: an API server
    // that restarted meanwhile may not replay what changed while its watch cache was filling (a
    // stream patched just then was never seen, until the next periodic relist).
    if (gone || err || !this.resourceVersion) {
      while (!this.stopped && !(await this.relist())) await this.sleepBackoff();
    }
    void this.startWatch();
  }

  private periodicRelist(): void {
    if (this.stopped || !this.watchAbort) return;
    // onWatchDone relists, then resumes watching from the new list's resourceVersion.
    this.relistRequested = true;
    this.watchAbort.abort();
  }

  private sleepBackoff(): Promise<void> {
    const ms = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** this.failures++);
    return new Promise((resolve) => {
      this.retryTimer = setTimeout(resolve, ms);
    });
  }
}
