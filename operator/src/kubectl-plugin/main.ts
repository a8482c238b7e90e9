// `kubectl engram promote|abort|retry|status NAME`: drives and shows an EngramStream's canary
// rollout, as `kubectl argo rollouts` does for a Rollout. Actions set an annotation with a fresh
// value (the operator acts on each value once); status reads the stream's status.
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type EngramStream } from '../api/v1alpha1/types.js';
import { ABORT_ANNOTATION, PROMOTE_ANNOTATION, RETRY_ANNOTATION } from '../controllers/engram-stream/rollout/rollout-machine.js';
import { renderStatus } from './render-status.js';

const USAGE = `usage: kubectl engram <command> NAME [-n NAMESPACE] [--kubeconfig FILE]

Commands:
  status NAME            steps, weights, versions and the last analysis of the stream's rollout
  promote NAME [--full]  end the current step (a pause, an inconclusive analysis) and go on; --full: promote now
  abort NAME             roll the canary back: every engine returns to the stable version
  retry NAME             start an aborted rollout again from step 0
`;

interface Args { command: string; name: string; namespace: string; full: boolean; kubeconfig?: string }

function parse(argv: string[]): Args {
  const positional: string[] = [];
  let namespace: string | undefined;
  let full = false;
  let kubeconfig: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else if (a === '-n' || a === '--namespace') namespace = argv[++i];
    else if (a.startsWith('--namespace=')) namespace = a.slice('--namespace='.length);
    else if (a === '--kubeconfig') kubeconfig = argv[++i];
    else if (a === '--full') full = true;
    else if (a.startsWith('-')) fail(`unknown flag '${a}'`);
    else positional.push(a);
  }
  const [command, name] = positional;
  if (!command || !['status', 'promote', 'abort', 'retry'].includes(command)) fail(command ? `unknown command '${command}'` : 'a command is needed');
  if (!name) fail(`${command} needs the name of an EngramStream`);
  return { command: command!, name: name!, namespace: namespace ?? '', full, ...(kubeconfig ? { kubeconfig } : {}) };
}

function fail(message: string): never {
  process.stderr.write(`kubectl engram: ${message}\n\n${USAGE}`);
  process.exit(2);
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  const kc = new k8s.KubeConfig();
  if (args.kubeconfig) kc.loadFromFile(args.kubeconfig);
  else kc.loadFromDefault();
  const namespace = args.namespace || kc.getContextObject(kc.getCurrentContext())?.namespace || 'default';
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  const target = { group: GROUP, version: VERSION, plural: PLURAL, namespace, name: args.name };
  if (args.command === 'status') {
    const stream = await api.getNamespacedCustomObject(target) as EngramStream;
    process.stdout.write(renderStatus(stream));
    return;
  }
  const annotation = { promote: PROMOTE_ANNOTATION, abort: ABORT_ANNOTATION, retry: RETRY_ANNOTATION }[args.command as 'promote' | 'abort' | 'retry'];
  const value = `${args.command === 'promote' ? (args.full ? 'full' : 'step') : 'requested'}@${new Date().toISOString()}`;
  await api.patchNamespacedCustomObject({ ...target, body: { metadata: { annotations: { [annotation]: value } } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
  process.stdout.write(`engramstream/${args.name} ${args.command === 'promote' && args.full ? 'promote --full' : args.command} requested (${annotation}=${value})\n`);
}

main().catch((e: unknown) => {
  const body = (e as { body?: unknown }).body;
  const message = typeof body === 'string' ? (JSON.parse(body) as { message?: string }).message : undefined;
  process.stderr.write(`kubectl engram: ${message ?? (e instanceof Error ? e.message : String(e))}\n`);
  process.exit(1);
});
