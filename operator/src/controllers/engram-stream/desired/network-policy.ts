// The NetworkPolicy in front of a stream's engine pods. gRPC: from the stream's own pods (they
// forward to each other and hand spaces over), from pods labelled engram.io/client-of=<stream> in
// its namespace, and from the operator. Metrics: from the namespaces spec.networkPolicy.metricsFrom
// selects (any, by default: Prometheus may live anywhere, and metrics need a key when keys are on)
// and from the operator, whose canary analysis reads them. Everything else is refused, where the
// cluster's network plugin enforces NetworkPolicies. (`_from` is client-node's name for `from`.)
import type { V1NetworkPolicy, V1NetworkPolicyPeer } from '@kubernetes/client-node';
import type { EngramStream } from '../../../api/v1alpha1/types.js';
import { CLIENT_OF_LABEL, commonLabels, OPERATOR_POD_LABELS, ownerReference, selectorLabels, streamNames } from '../names.js';
import { enginePorts } from './stateful-set.js';

export function buildNetworkPolicy(stream: EngramStream): V1NetworkPolicy {
  const ports = enginePorts(stream);
  const operator: V1NetworkPolicyPeer = { namespaceSelector: {}, podSelector: { matchLabels: { ...OPERATOR_POD_LABELS } } };
  const metricsFrom = stream.spec.networkPolicy?.metricsFrom;
  return {
    apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
    metadata: { name: streamNames(stream).statefulSet, namespace: stream.metadata.namespace!, labels: commonLabels(stream), ownerReferences: [ownerReference(stream)] },
    spec: {
      podSelector: { matchLabels: selectorLabels(stream) },
      policyTypes: ['Ingress'],
      ingress: [
        {
          ports: [{ protocol: 'TCP', port: ports.grpc }],
          _from: [{ podSelector: { matchLabels: selectorLabels(stream) } }, { podSelector: { matchLabels: { [CLIENT_OF_LABEL]: stream.metadata.name! } } }, operator],
        },
        {
          ports: [{ protocol: 'TCP', port: ports.metrics }],
          _from: [{ namespaceSelector: metricsFrom && Object.keys(metricsFrom).length > 0 ? { matchLabels: metricsFrom } : {} }, operator],
        },
      ],
    },
  };
}
