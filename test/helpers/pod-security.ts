// Whether a namespace enforces the "restricted" pod security standard: a privileged pod, offered
// to the API server's admission (dry run, nothing created), must be refused. The label takes
// effect once the API server's namespace cache has it, so this asks until it is.
import { eventually } from './eventually.js';

export async function refusedPrivilegedPod(cluster: { kubectl(args: string[], input?: string): Promise<string> }, namespace: string): Promise<string> {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'privileged', namespace }, spec: { containers: [{ name: 'c', image: 'x', securityContext: { privileged: true } }] } };
  return eventually(`namespace ${namespace} to refuse a privileged pod`, async () => {
    const refusal = await cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], JSON.stringify(pod)).then(() => null, (e: Error) => e.message);
    return refusal?.includes('violates PodSecurity') ? refusal : undefined;
  }, 30_000);
}
