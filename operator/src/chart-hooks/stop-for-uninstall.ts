// `helm uninstall`'s pre-delete hook: Helm deletes the Deployment and, a moment later, the RBAC the
// operator runs under, so an operator still shutting down was refused (403) when it released its
// Lease, and a stale Lease stayed behind. This scales the operator to zero and waits until its pods
// are gone (each releases the Lease with its permissions intact), then deletes the Lease.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '@engram/engine/log';

export interface StopOptions {
  namespace: string;
  deployment: string;
  /** Label selector of the operator's pods. */
  selector: string;
  lease: string;
  timeoutMs: number;
  log: Logger;
}

const isNotFound = (e: unknown) => (e as { code?: number }).code === 404;

export async function stopForUninstall(kc: k8s.KubeConfig, options: StopOptions): Promise<void> {
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
  const { namespace, log } = options;
  await apps.patchNamespacedDeploymentScale(
    { name: options.deployment, namespace, body: { spec: { replicas: 0 } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  ).catch((e: unknown) => {
    if (!isNotFound(e)) throw e;
  });
  log.info('operator scaled to zero; waiting for its pods to stop', { deployment: options.deployment });
  for (const deadline = Date.now() + options.timeoutMs; ;) {
    const pods = await core.listNamespacedPod({ namespace, labelSelector: options.selector });
    const left = pods.items.filter((p) => !['Succeeded', 'Failed'].includes(p.status?.phase ?? ''));
    if (left.length === 0) break;
    if (Date.now() > deadline) throw new Error(`operator pods still running: ${left.map((p) => p.metadata?.name).join(', ')}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  await coordination.deleteNamespacedLease({ name: options.lease, namespace }).catch((e: unknown) => {
    if (!isNotFound(e)) throw e;
  });
  log.info('operator stopped and its Lease deleted', { lease: options.lease });
}
