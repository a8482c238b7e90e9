// A Prometheus Operator ServiceMonitor for the engines' /metrics, built only when that CRD is
// installed in the cluster (the reconciler checks).
import type { KubernetesObject } from '@kubernetes/client-node';
import type { EngramStream } from '../../../api/v1alpha1/types.js';
import { commonLabels, ownerReference, selectorLabels, STREAM_LABEL, streamNames } from '../names.js';
import { SERVICE_ROLE_LABEL } from './services.js';
import { authEnabled, KEY_DATA, keySecretNames } from './key-secrets.js';

export const SERVICE_MONITOR_CRD = 'servicemonitors.monitoring.coreos.com';

export interface ServiceMonitor extends KubernetesObject {
  spec: Record<string, unknown>;
}

/** `serverName`: the name the engines' certificate carries (pods are scraped by address). */
export function buildServiceMonitor(stream: EngramStream, serverName?: string): ServiceMonitor {
  const tls = stream.spec.tls;
  return {
    apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor',
    metadata: { name: streamNames(stream).serviceMonitor, namespace: stream.metadata.namespace!, labels: commonLabels(stream), ownerReferences: [ownerReference(stream)] },
    spec: {
      selector: { matchLabels: { ...selectorLabels(stream), [SERVICE_ROLE_LABEL]: 'client' } },
      namespaceSelector: { matchNames: [stream.metadata.namespace!] },
      endpoints: [{
        port: 'metrics', path: '/metrics', interval: '15s',
        // Dashboards and alerts select engines by stream: the Service's stream label becomes
        // `engramstream` (namespace and pod come with every ServiceMonitor target).
        relabelings: [{ sourceLabels: [`__meta_kubernetes_service_label_${STREAM_LABEL.replace(/[^a-zA-Z0-9_]/g, '_')}`], targetLabel: 'engramstream' }],
        // Metrics name tenants and spaces: with keys on they need the metrics key the operator made.
        ...(authEnabled(stream) ? { authorization: { type: 'Bearer', credentials: { name: keySecretNames(stream).metrics, key: KEY_DATA } } } : {}),
        ...(tls?.metrics ? {
          scheme: 'https',
          tlsConfig: { ca: { secret: { name: tls.secretName, key: 'ca.crt' } }, ...(serverName ? { serverName } : {}) },
        } : {}),
      }],
    },
  };
}
