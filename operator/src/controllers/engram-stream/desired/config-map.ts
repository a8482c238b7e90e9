// The ConfigMap an engine pod starts from. It holds the last config the engines accepted (or the
// desired one when no engine runs to ask), so a pod that restarts comes back with a good config;
// running engines get changes live through the admin RPC, not through this file. Mounted as a
// directory (not subPath) so the kubelet keeps it current.
import type { V1ConfigMap } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import type { EngineConfig } from '@engram/engine/config';
import type { EngramStream } from '../../../api/v1alpha1/types.js';
import { commonLabels, CONFIG_FILE, ownerReference, streamNames } from '../names.js';

export const CONFIG_HASH_ANNOTATION = 'engram.io/config-hash';

export function buildConfigMap(stream: EngramStream, config: EngineConfig, hash: string): V1ConfigMap {
  return {
    apiVersion: 'v1', kind: 'ConfigMap',
    metadata: {
      name: streamNames(stream).configMap, namespace: stream.metadata.namespace!, labels: commonLabels(stream),
      annotations: { [CONFIG_HASH_ANNOTATION]: hash }, ownerReferences: [ownerReference(stream)],
    },
    data: { [CONFIG_FILE]: yaml.dump(config, { sortKeys: true }) },
  };
}

/** The config a ConfigMap built by buildConfigMap holds, or undefined if it holds none. */
export function configOf(configMap: V1ConfigMap | undefined): { config: EngineConfig; hash: string } | undefined {
  const text = configMap?.data?.[CONFIG_FILE];
  const hash = configMap?.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
  if (!text || !hash) return undefined;
  return { config: yaml.load(text) as EngineConfig, hash };
}
