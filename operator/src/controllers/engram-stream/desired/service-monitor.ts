// A Prometheus Operator ServiceMonitor for the engines' /metrics, built only when that CRD is
// installed in the cluster (the reconciler checks).
import type { KubernetesObject } from '@kubernetes/client-node';
import type { EngramStream } from '../../../api/v1alpha1/types.js';
import { commonLabels, ownerReference, selectorLabels, streamNames } from '../names.js';
import { SERVICE_ROLE_LABEL } from './services.js';

export const SERVICE_MONITOR_CRD = 'servicemonitors.monitoring.coreos.com';

export interface ServiceMonitor extends KubernetesObject {
  spec: Record<string, unknown>;
}

export function buildServiceMonitor(stream: EngramStream): ServiceMonitor {
  return {
    apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor',
    metadata: { name: streamNames(stream).serviceMonitor, namespace: stream.metadata.namespace!, labels: commonLabels(stream), ownerReferences: [ownerReference(stream)] },
    spec: {
      selector: { matchLabels: { ...selectorLabels(stream), [SERVICE_ROLE_LABEL]: 'client' } },
      namespaceSelector: { matchNames: [stream.metadata.namespace!] },
      endpoints: [{ port: 'metrics', path: '/metrics', interval: '15s' }],
    },
  };
}
