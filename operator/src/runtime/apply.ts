// Writes through server-side apply under one field manager: the operator states the fields it
// owns, the API server merges, and fields others own (an HPA's replicas, a user's annotation)
// are left alone. Status goes through the status subresource as a merge patch.
import * as k8s from '@kubernetes/client-node';

export class Applier {
  private readonly objects: k8s.KubernetesObjectApi;
  private readonly custom: k8s.CustomObjectsApi;

  constructor(kc: k8s.KubeConfig, readonly fieldManager: string) {
    this.objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
  }

  apply<T extends k8s.KubernetesObject>(object: T): Promise<T> {
    return this.objects.patch(object, undefined, undefined, this.fieldManager, true, k8s.PatchStrategy.ServerSideApply);
  }

  read<T extends k8s.KubernetesObject>(object: T & { metadata: { name: string; namespace: string } }): Promise<T | undefined> {
    return this.objects.read<T>(object).catch((e: unknown) => {
      if ((e as { code?: number }).code === 404) return undefined;
      throw e;
    });
  }

  /** Deletes an object; one already gone is not an error. */
  async delete(object: k8s.KubernetesObject): Promise<void> {
    await this.objects.delete(object).catch((e: unknown) => {
      if ((e as { code?: number }).code !== 404) throw e;
    });
  }

  patchStatus(group: string, version: string, plural: string, namespace: string, name: string, status: unknown): Promise<unknown> {
    return this.custom.patchNamespacedCustomObjectStatus(
      { group, version, plural, namespace, name, body: { status }, fieldManager: this.fieldManager },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }
}
