// Events on the objects the operator manages (what `kubectl describe` shows). Like client-go's
// recorder, a repeat of the same event on the same object bumps the existing Event's count instead
// of creating a new one; recording never fails a reconcile.
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '@engram/engine/log';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  event(object: k8s.KubernetesObject, type: EventType, reason: string, message: string): void;
}

const REPEAT_WINDOW_MS = 10 * 60_000;

export class ApiEventRecorder implements EventRecorder {
  private readonly core: k8s.CoreV1Api;
  private readonly recent = new Map<string, { name: string; namespace: string; count: number; at: number }>();

  constructor(kc: k8s.KubeConfig, private readonly component: string, private readonly log: Logger, private readonly now: () => number = Date.now) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
  }

  event(object: k8s.KubernetesObject, type: EventType, reason: string, message: string): void {
    void this.record(object, type, reason, message).catch((e: unknown) => this.log.warn('recording an event failed', { reason, error: String(e) }));
  }

  private async record(object: k8s.KubernetesObject, type: EventType, reason: string, message: string): Promise<void> {
    const meta = object.metadata ?? {};
    const namespace = meta.namespace ?? 'default';
    const key = `${meta.uid}/${type}/${reason}/${message}`;
    const time = new Date(this.now());
    const previous = this.recent.get(key);
    if (previous && this.now() - previous.at < REPEAT_WINDOW_MS) {
      previous.count++;
      previous.at = this.now();
      const existing = await this.core.readNamespacedEvent({ name: previous.name, namespace: previous.namespace });
      existing.count = previous.count;
      existing.lastTimestamp = time;
      await this.core.replaceNamespacedEvent({ name: previous.name, namespace: previous.namespace, body: existing });
      return;
    }
    const name = `${meta.name}.${randomBytes(8).toString('hex')}`;
    await this.core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { name, namespace },
        involvedObject: { apiVersion: object.apiVersion, kind: object.kind, name: meta.name, namespace, uid: meta.uid, resourceVersion: meta.resourceVersion },
        type, reason, message, count: 1, firstTimestamp: time, lastTimestamp: time,
        source: { component: this.component }, reportingComponent: this.component, reportingInstance: process.env.POD_NAME ?? this.component,
      },
    });
    this.recent.set(key, { name, namespace, count: 1, at: this.now() });
    if (this.recent.size > 1000) this.recent.delete(this.recent.keys().next().value as string);
  }
}
