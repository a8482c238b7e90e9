// Names and labels of everything an EngramStream owns, in one place.
import type { V1OwnerReference } from '@kubernetes/client-node';
import type { EngramStream } from '../../api/v1alpha1/types.js';

export const FIELD_MANAGER = 'engram-operator';
export const STREAM_LABEL = 'engram.io/stream';
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'engram-operator' } as const;
/** Labels the chart gives the operator's pods, whatever the release is called. */
export const OPERATOR_POD_LABELS = { 'app.kubernetes.io/part-of': 'engram-stream', 'app.kubernetes.io/component': 'operator' } as const;
/** A pod with this label set to a stream's name may reach that stream's engines' gRPC port. */
export const CLIENT_OF_LABEL = 'engram.io/client-of';
export const CONFIG_FILE = 'engine.yaml';
export const CONFIG_MOUNT = '/etc/engram';
export const DATA_MOUNT = '/var/lib/engram';
export const SCRATCH_MOUNT = '/scratch';
/** The engine's own SIGTERM deadline; the pod's grace period adds a margin over it. */
export const ENGINE_SHUTDOWN_DEADLINE_MS = 30_000;

export interface StreamNames {
  statefulSet: string;
  configMap: string;
  headlessService: string;
  clientService: string;
  podDisruptionBudget: string;
  serviceMonitor: string;
}

export function streamNames(stream: EngramStream): StreamNames {
  const name = stream.metadata.name!;
  return {
    statefulSet: name, configMap: `${name}-config`, headlessService: `${name}-headless`, clientService: name,
    podDisruptionBudget: name, serviceMonitor: name,
  };
}

/** Labels that select the stream's engine pods (also the scale subresource's selector). */
export function selectorLabels(stream: EngramStream): Record<string, string> {
  return { 'app.kubernetes.io/name': 'engram-engine', 'app.kubernetes.io/instance': stream.metadata.name!, [STREAM_LABEL]: stream.metadata.name! };
}

export function commonLabels(stream: EngramStream): Record<string, string> {
  return { ...selectorLabels(stream), ...MANAGED_BY, 'app.kubernetes.io/part-of': 'engram-stream', 'app.kubernetes.io/component': 'engine' };
}

/** Labels as a label selector string (`a=b,c=d`). */
export function labelSelector(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
}

export function selectorString(stream: EngramStream): string {
  return labelSelector(selectorLabels(stream));
}

/** Makes the stream the controller owner: the garbage collector deletes the object with it. */
export function ownerReference(stream: EngramStream): V1OwnerReference {
  return { apiVersion: stream.apiVersion, kind: stream.kind, name: stream.metadata.name!, uid: stream.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/** A pod's StatefulSet ordinal (its place on the ring, or as a canary after it); undefined for other pods. */
export function ordinalOf(pod: { metadata?: { name?: string } }, stream: EngramStream): number | undefined {
  const prefix = `${streamNames(stream).statefulSet}-`;
  const name = pod.metadata?.name ?? '';
  const rest = name.slice(prefix.length);
  return name.startsWith(prefix) && /^\d+$/.test(rest) ? Number(rest) : undefined;
}
