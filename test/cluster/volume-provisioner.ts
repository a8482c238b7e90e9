// A test-only dynamic volume provisioner, as a CSI driver's external-provisioner would be: it owns
// the cluster's default StorageClass, creates a hostPath PersistentVolume for every claim of that
// class that the real PersistentVolume controller has marked for it, and deletes a released volume
// (and its directory) when the reclaim policy says Delete. The PV controller does the binding.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';

export const PROVISIONER_NAME = 'engram.io/node-agent';
export const STORAGE_CLASS = 'standard';
const POLL_MS = 500;

export class VolumeProvisioner {
  private readonly core: k8s.CoreV1Api;
  private readonly storage: k8s.StorageV1Api;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();

  constructor(kc: k8s.KubeConfig, private readonly rootDir: string) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.storage = kc.makeApiClient(k8s.StorageV1Api);
  }

  async start(): Promise<void> {
    mkdirSync(this.rootDir, { recursive: true });
    await this.storage.createStorageClass({
      body: {
        metadata: { name: STORAGE_CLASS, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
        provisioner: PROVISIONER_NAME, reclaimPolicy: 'Delete', volumeBindingMode: 'Immediate',
      },
    });
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.pass()).catch(() => undefined);
    }, POLL_MS);
  }

  /** One level-based pass: provision what is waiting, delete what was released. */
  private async pass(): Promise<void> {
    const classes = new Map((await this.storage.listStorageClass()).items.map((c) => [c.metadata!.name!, c.provisioner]));
    for (const claim of (await this.core.listPersistentVolumeClaimForAllNamespaces()).items) {
      const className = claim.spec?.storageClassName;
      if (claim.status?.phase !== 'Pending' || claim.spec?.volumeName || claim.metadata?.deletionTimestamp) continue;
      if (!className || classes.get(className) !== PROVISIONER_NAME) continue;
      await this.provision(claim).catch((e: unknown) => {
        if ((e as { code?: number }).code !== 409) throw e; // 409: provisioned by an earlier pass
      });
    }
    for (const volume of (await this.core.listPersistentVolume()).items) {
      if (volume.status?.phase !== 'Released' || volume.spec?.persistentVolumeReclaimPolicy !== 'Delete') continue;
      if (volume.metadata?.annotations?.['pv.kubernetes.io/provisioned-by'] !== PROVISIONER_NAME) continue;
      if (volume.spec.hostPath?.path) rmSync(volume.spec.hostPath.path, { recursive: true, force: true });
      await this.core.deletePersistentVolume({ name: volume.metadata.name! });
    }
  }

  private async provision(claim: k8s.V1PersistentVolumeClaim): Promise<void> {
    const name = `pvc-${claim.metadata!.uid}`;
    const path = join(this.rootDir, name);
    mkdirSync(path, { recursive: true });
    await this.core.createPersistentVolume({
      body: {
        metadata: { name, annotations: { 'pv.kubernetes.io/provisioned-by': PROVISIONER_NAME } },
        spec: {
          capacity: { storage: claim.spec?.resources?.requests?.storage ?? '1Gi' },
          accessModes: claim.spec?.accessModes ?? ['ReadWriteOnce'],
          persistentVolumeReclaimPolicy: 'Delete',
          storageClassName: claim.spec!.storageClassName!,
          hostPath: { path, type: 'DirectoryOrCreate' },
          claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: claim.metadata!.namespace!, name: claim.metadata!.name!, uid: claim.metadata!.uid! },
        },
      },
    });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
