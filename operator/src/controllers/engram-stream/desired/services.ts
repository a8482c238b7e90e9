// Two Services: a headless one that gives each engine pod a stable DNS name (the StatefulSet's
// serviceName; it lists pods before they are ready, so peers can find a recovering engine), and a
// client one that load-balances over ready engines.
import type { V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { EngramStream } from '../../../api/v1alpha1/types.js';
import { commonLabels, ownerReference, selectorLabels, streamNames } from '../names.js';
import { enginePorts } from './stateful-set.js';

function servicePorts(stream: EngramStream): V1ServicePort[] {
  const ports = enginePorts(stream);
  return [
    { name: 'grpc', port: ports.grpc, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'grpc' },
    { name: 'metrics', port: ports.metrics, targetPort: 'metrics', protocol: 'TCP', appProtocol: 'http' },
  ];
}

/** Tells the two Services apart (a ServiceMonitor selects the client one only, to scrape once). */
export const SERVICE_ROLE_LABEL = 'engram.io/service';

export function buildHeadlessService(stream: EngramStream): V1Service {
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: {
      name: streamNames(stream).headlessService, namespace: stream.metadata.namespace!,
      labels: { ...commonLabels(stream), [SERVICE_ROLE_LABEL]: 'headless' }, ownerReferences: [ownerReference(stream)],
    },
    spec: { clusterIP: 'None', publishNotReadyAddresses: true, selector: selectorLabels(stream), ports: servicePorts(stream) },
  };
}

export function buildClientService(stream: EngramStream): V1Service {
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: {
      name: streamNames(stream).clientService, namespace: stream.metadata.namespace!,
      labels: { ...commonLabels(stream), [SERVICE_ROLE_LABEL]: 'client' }, ownerReferences: [ownerReference(stream)],
    },
    spec: { type: 'ClusterIP', selector: selectorLabels(stream), ports: servicePorts(stream) },
  };
}
