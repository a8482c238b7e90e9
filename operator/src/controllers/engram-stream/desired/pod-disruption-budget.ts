// At most one engine pod down at a time for voluntary disruptions (drains, upgrades). With one
// replica this does not block a drain: blocking would leave a node undrainable, and the engine
// drains, snapshots and restarts on another node with its volume.
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { EngramStream } from '../../../api/v1alpha1/types.js';
import { commonLabels, ownerReference, selectorLabels, streamNames } from '../names.js';

export function buildPodDisruptionBudget(stream: EngramStream): V1PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1', kind: 'PodDisruptionBudget',
    metadata: { name: streamNames(stream).podDisruptionBudget, namespace: stream.metadata.namespace!, labels: commonLabels(stream), ownerReferences: [ownerReference(stream)] },
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(stream) } },
  };
}
