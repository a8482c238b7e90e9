// `npm run cluster`: a test cluster in the foreground (control plane + one node agent) for trying
// things by hand with kubectl. Prints the kubeconfig to use; Ctrl-C stops everything.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startControlPlane } from './control-plane.js';
import { localImages, NodeAgent } from './node-agent.js';

const cluster = await startControlPlane();
const agent = new NodeAgent({
  kubeconfig: cluster.kubeconfig, nodeName: 'engram-node-0', rootDir: mkdtempSync(join(tmpdir(), 'engram-node-')),
  images: localImages(fileURLToPath(new URL('../../..', import.meta.url))),
});
await agent.start();
for (const [name, version] of Object.entries(cluster.versions)) console.log(`${name}: ${version}`);
console.log(`\ncluster up: export KUBECONFIG=${cluster.kubeconfig}\nkubectl ${cluster.versions['kube-apiserver']?.replace('Kubernetes ', '')}: ${cluster.kubectlPath}\nCtrl-C to stop`);
const stop = async (): Promise<void> => {
  await agent.stop();
  await cluster.stop();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
