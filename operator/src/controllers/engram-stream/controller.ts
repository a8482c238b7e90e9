// Wires the EngramStream controller: what it watches and how an event becomes a key. A change to
// an EngramStream queues it; a change to a StatefulSet or pod it owns queues its owner (found by
// the stream label every owned object carries).
import * as k8s from '@kubernetes/client-node';
import { API_VERSION, KIND, PLURAL, type EngramStream } from '../../api/v1alpha1/types.js';
import { Applier } from '../../runtime/apply.js';
import { Controller } from '../../runtime/controller.js';
import type { ControllerMetrics } from '../../runtime/controller-metrics.js';
import type { EventRecorder } from '../../runtime/event-recorder.js';
import { Informer, objectKey } from '../../runtime/informer.js';
import type { Logger } from '@engram/engine/log';
import { EngineFleet } from './engine-fleet.js';
import { Rebalancer } from './placement/rebalancer.js';
import { FIELD_MANAGER, labelSelector, MANAGED_BY, STREAM_LABEL } from './names.js';
import { RolloutDriver, type MetricsEndpoint } from './rollout/rollout-driver.js';
import { get as httpsGet } from 'node:https';
import { AccessPass } from './access/stream-access.js';
import { EngramStreamReconciler } from './reconciler.js';
import type { StreamMetrics } from './stream-metrics.js';

export const CONTROLLER_NAME = 'engramstream';

export interface EngramStreamControllerOptions {
  kc: k8s.KubeConfig;
  /** Watch one namespace; undefined for all. */
  namespace?: string;
  defaultImage: string;
  concurrency: number;
  relistIntervalMs: number;
  metrics: ControllerMetrics;
  streamMetrics: StreamMetrics;
  recorder: EventRecorder;
  log: Logger;
}

const CRD_CHECK_TTL_MS = 30_000;

/** GETs a URL as text: with the stream's key, and over HTTPS trusting its CA (fetch cannot take a CA). */
async function fetchText(url: string, signal: AbortSignal, endpoint?: MetricsEndpoint): Promise<string> {
  const headers: Record<string, string> = endpoint?.apiKey ? { authorization: `Bearer ${endpoint.apiKey}` } : {};
  if (!url.startsWith('https:')) {
    const response = await fetch(url, { signal, headers });
    if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
    return response.text();
  }
  return new Promise((resolve, reject) => {
    const request = httpsGet(url, { headers, signal, ...(endpoint?.tls?.ca ? { ca: endpoint.tls.ca } : {}), ...(endpoint?.tls?.serverName ? { servername: endpoint.tls.serverName } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(new Error(`GET ${url}: ${res.statusCode}`))));
      res.on('error', reject);
    });
    request.on('error', reject);
  });
}

export class EngramStreamController {
  readonly informers: Array<Informer<k8s.KubernetesObject>>;
  private readonly controller: Controller;
  private readonly fleet = new EngineFleet();

  constructor(options: EngramStreamControllerOptions) {
    const { kc, namespace, log } = options;
    const managed = labelSelector(MANAGED_BY);
    const common = { relistIntervalMs: options.relistIntervalMs, ...(namespace ? { namespace } : {}) };
    const streams = new Informer<EngramStream>(kc, { apiVersion: API_VERSION, kind: KIND, plural: PLURAL, ...common }, log);
    const statefulSets = new Informer<k8s.V1StatefulSet>(kc, { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets', labelSelector: managed, ...common }, log);
    const pods = new Informer<k8s.V1Pod>(kc, { apiVersion: 'v1', kind: 'Pod', plural: 'pods', labelSelector: managed, ...common }, log);
    this.informers = [streams, statefulSets, pods] as Array<Informer<k8s.KubernetesObject>>;

    const applier = new Applier(kc, FIELD_MANAGER);
    const rebalancer = new Rebalancer({ applier, client: (address) => this.fleet.client(address), now: () => new Date() });
    const rollouts = new RolloutDriver({ applier, defaultImage: options.defaultImage, httpGet: fetchText });
    const reconciler = new EngramStreamReconciler({
      streams, pods, statefulSets, applier, fleet: this.fleet, rebalancer, rollouts, access: new AccessPass({ applier }), recorder: options.recorder, metrics: options.streamMetrics,
      crdInstalled: crdChecker(kc), defaultImage: options.defaultImage, now: () => new Date(),
    });
    this.controller = new Controller({ name: CONTROLLER_NAME, concurrency: options.concurrency }, reconciler.reconcile, options.metrics, log);
    streams.on((_event, stream) => this.controller.queue.add(objectKey(stream)));
    const enqueueOwner = (_event: string, object: k8s.KubernetesObject): void => {
      const owner = object.metadata?.labels?.[STREAM_LABEL];
      if (owner && object.metadata?.namespace) this.controller.queue.add(`${object.metadata.namespace}/${owner}`);
    };
    statefulSets.on(enqueueOwner);
    pods.on(enqueueOwner);
  }

  start(): void {
    this.controller.start();
  }

  async stop(deadlineMs: number): Promise<void> {
    await this.controller.stop(deadlineMs);
    this.fleet.close();
  }
}

/** Whether a CRD is installed, asked at most every 30 s per name. */
function crdChecker(kc: k8s.KubeConfig): (name: string) => Promise<boolean> {
  const api = kc.makeApiClient(k8s.ApiextensionsV1Api);
  const cache = new Map<string, { installed: boolean; at: number }>();
  return async (name) => {
    const hit = cache.get(name);
    if (hit && Date.now() - hit.at < CRD_CHECK_TTL_MS) return hit.installed;
    const installed = await api.readCustomResourceDefinition({ name }).then(() => true, (e: { code?: number }) => {
      if (e.code === 404) return false;
      throw e;
    });
    cache.set(name, { installed, at: Date.now() });
    return installed;
  };
}
