// A record the operator keeps for a stream: one JSON document in a ConfigMap the stream owns
// (deleted with it), written by the leader only, so that a new leader carries on from it. The
// placement and the rollout are kept this way.
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { EngramStream } from '../../api/v1alpha1/types.js';
import { commonLabels, ownerReference, streamNames } from './names.js';

export interface OwnedRecord<T> {
  /** The ConfigMap's name: the stream's StatefulSet name and the record's suffix. */
  name(stream: EngramStream): string;
  /** The ConfigMap holding `record`, owned by the stream. */
  build(stream: EngramStream, record: T): V1ConfigMap;
  /** The record a ConfigMap holds, if there is one. */
  read(configMap: V1ConfigMap | undefined): T | undefined;
}

/** The record kept under `key` in the ConfigMap named `<statefulset>-<suffix>`. */
export function ownedRecord<T>(suffix: string, key: string): OwnedRecord<T> {
  const name = (stream: EngramStream): string => `${streamNames(stream).statefulSet}-${suffix}`;
  return {
    name,
    build: (stream, record) => ({
      apiVersion: 'v1', kind: 'ConfigMap',
      metadata: { name: name(stream), namespace: stream.metadata.namespace!, labels: commonLabels(stream), ownerReferences: [ownerReference(stream)] },
      data: { [key]: JSON.stringify(record, null, 1) },
    }),
    read: (configMap) => {
      const text = configMap?.data?.[key];
      return text ? (JSON.parse(text) as T) : undefined;
    },
  };
}
