// The StatefulSet of engine pods: one volume claim each for the write-ahead log and snapshots, the
// ConfigMap as the starting config, the key document and TLS Secrets, probes on the engine's own
// health endpoints. Only restart-class fields (image, ports, resources, auth mode, TLS) reach the
// pod template, so live and rebuild changes, and key rotations, never roll pods.
import type { V1Container, V1StatefulSet, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { authEnabled, keySecretNames, KEYS_FILE } from './key-secrets.js';
import type { EngramStream } from '../../../api/v1alpha1/types.js';
import {
  commonLabels, CONFIG_FILE, CONFIG_MOUNT, DATA_MOUNT, ENGINE_SHUTDOWN_DEADLINE_MS, ownerReference, SCRATCH_MOUNT,
  selectorLabels, streamNames,
} from '../names.js';

export const DEFAULT_PORTS = { grpc: 50051, metrics: 9464 } as const;
/** An unprivileged uid the engine image also uses. */
const ENGINE_UID = 10001;

export function enginePorts(stream: EngramStream): { grpc: number; metrics: number } {
  return { grpc: stream.spec.ports?.grpc ?? DEFAULT_PORTS.grpc, metrics: stream.spec.ports?.metrics ?? DEFAULT_PORTS.metrics };
}

const KEYS_MOUNT = '/etc/engram-keys';
const TLS_MOUNT = '/etc/engram-tls';

/** Authentication (the mounted key document, or --insecure when spec.auth.mode is None) and TLS. */
function securityArgs(stream: EngramStream): string[] {
  const tls = stream.spec.tls;
  return [
    ...(authEnabled(stream) ? ['--keys-file', `${KEYS_MOUNT}/${KEYS_FILE}`] : ['--insecure']),
    ...(tls ? ['--tls-cert', `${TLS_MOUNT}/tls.crt`, '--tls-key', `${TLS_MOUNT}/tls.key`, '--tls-ca', `${TLS_MOUNT}/ca.crt`] : []),
    ...(tls?.requireClientCertificates ? ['--tls-require-client-cert'] : []),
    ...(tls?.metrics ? ['--tls-http'] : []),
  ];
}

function securityVolumes(stream: EngramStream): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const volumes: V1Volume[] = [];
  const mounts: V1VolumeMount[] = [];
  // Secrets as directories (not subPath), so the kubelet keeps them current and the engine re-reads them.
  if (authEnabled(stream)) {
    volumes.push({ name: 'keys', secret: { secretName: keySecretNames(stream).engine } });
    mounts.push({ name: 'keys', mountPath: KEYS_MOUNT, readOnly: true });
  }
  if (stream.spec.tls) {
    volumes.push({ name: 'tls', secret: { secretName: stream.spec.tls.secretName } });
    mounts.push({ name: 'tls', mountPath: TLS_MOUNT, readOnly: true });
  }
  return { volumes, mounts };
}

function engineContainer(stream: EngramStream, defaultImage: string): V1Container {
  const ports = enginePorts(stream);
  const probeScheme = stream.spec.tls?.metrics ? 'HTTPS' : 'HTTP';
  return {
    name: 'engine',
    image: stream.spec.image ?? defaultImage,
    ...(stream.spec.imagePullPolicy ? { imagePullPolicy: stream.spec.imagePullPolicy } : {}),
    args: [
      'serve', '--config', `${CONFIG_MOUNT}/${CONFIG_FILE}`, '--host', '0.0.0.0', '--port', String(ports.grpc),
      '--http-port', String(ports.metrics), '--data-dir', DATA_MOUNT, '--scratch-dir', SCRATCH_MOUNT,
      '--shutdown-deadline-ms', String(ENGINE_SHUTDOWN_DEADLINE_MS), '--member-name', '$(POD_NAME)',
      ...securityArgs(stream),
    ],
    // The pod name is the engine's identity in the stream's placement (its ordinal is its place on the ring).
    env: [{ name: 'TMPDIR', value: SCRATCH_MOUNT }, { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
    ports: [{ name: 'grpc', containerPort: ports.grpc, protocol: 'TCP' }, { name: 'metrics', containerPort: ports.metrics, protocol: 'TCP' }],
    // Ready once recovery has replayed the log; alive as soon as the HTTP server answers.
    readinessProbe: { httpGet: { path: '/readyz', port: 'metrics', scheme: probeScheme }, periodSeconds: 2, failureThreshold: 3 },
    livenessProbe: { httpGet: { path: '/healthz', port: 'metrics', scheme: probeScheme }, periodSeconds: 10, failureThreshold: 6 },
    ...(stream.spec.resources ? { resources: stream.spec.resources } : {}),
    volumeMounts: [
      { name: 'config', mountPath: CONFIG_MOUNT, readOnly: true },
      { name: 'data', mountPath: DATA_MOUNT },
      { name: 'scratch', mountPath: SCRATCH_MOUNT },
      ...securityVolumes(stream).mounts,
    ],
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } },
  };
}

/** `replicas`: the current step of a resize (the placement decides it; see placement/rebalancer.ts); `partition`: a rollout's (see rollout/). */
export function buildStatefulSet(stream: EngramStream, defaultImage: string, replicas: number, partition = 0): V1StatefulSet {
  const names = streamNames(stream);
  const storage = stream.spec.storage ?? {};
  return {
    apiVersion: 'apps/v1', kind: 'StatefulSet',
    metadata: { name: names.statefulSet, namespace: stream.metadata.namespace!, labels: commonLabels(stream), ownerReferences: [ownerReference(stream)] },
    spec: {
      replicas,
      serviceName: names.headlessService,
      selector: { matchLabels: selectorLabels(stream) },
      podManagementPolicy: 'OrderedReady',
      // During a canary rollout, pods below the partition (the ring) keep the stable template.
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition } },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: storage.retainOnDelete ? 'Retain' : 'Delete', whenScaled: 'Retain' },
      template: {
        metadata: { labels: commonLabels(stream) },
        spec: {
          terminationGracePeriodSeconds: ENGINE_SHUTDOWN_DEADLINE_MS / 1000 + 10,
          securityContext: { runAsUser: ENGINE_UID, runAsGroup: ENGINE_UID, fsGroup: ENGINE_UID, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [engineContainer(stream, defaultImage)],
          volumes: [
            { name: 'config', configMap: { name: names.configMap } },
            { name: 'scratch', emptyDir: {} },
            ...securityVolumes(stream).volumes,
          ],
        },
      },
      volumeClaimTemplates: [{
        apiVersion: 'v1', kind: 'PersistentVolumeClaim',
        metadata: { name: 'data', labels: selectorLabels(stream) },
        spec: {
          accessModes: ['ReadWriteOnce'],
          resources: { requests: { storage: storage.size ?? '10Gi' } },
          ...(storage.className ? { storageClassName: storage.className } : {}),
        },
      }],
    },
  };
}
