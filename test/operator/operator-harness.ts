// A test cluster with the EngramStream CRD installed and operator processes to start and kill:
// the real control plane, the node agent running engine pods as processes, and the operator run as
// users run it (its CLI, a kubeconfig, leader election on).
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.js';
import { localImages, NodeAgent } from '../cluster/node-agent.js';
import { eventually } from '../helpers/eventually.js';

export { eventually };

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OPERATOR_MAIN = join(REPO_ROOT, 'operator', 'dist', 'main.js');

export interface OperatorProcess {
  identity: string;
  process: ChildProcess;
  /** Port of /healthz, /readyz, /metrics. */
  port: number;
  logFile: string;
  metrics(): Promise<string>;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

export interface OperatorCluster {
  cluster: ControlPlane;
  agent: NodeAgent;
  kc: k8s.KubeConfig;
  dir: string;
  kubectl(args: string[], input?: string): Promise<string>;
  /** The admin API key the operator made for a stream (its `<name>-admin-key` Secret), once it exists. */
  adminKey(stream: string, namespace?: string): Promise<string>;
  /** A stream's engine pods that serve now: Ready, with an address, and not terminating. */
  readyEnginePods(stream: string, namespace?: string): Promise<EnginePod[]>;
  startOperator(identity: string, extraArgs?: string[]): Promise<OperatorProcess>;
  /** What the cluster shows of its pods, claims and recent events: for a test's failure message. */
  diagnose(): Promise<string>;
  stop(): Promise<void>;
}

export interface EnginePod {
  metadata: { name: string; deletionTimestamp?: string };
  status: { podIP?: string; conditions?: Array<{ type: string; status: string }> };
}

/** An engine pod's gRPC address. */
export const grpcAddress = (pod: EnginePod) => `${pod.status.podIP}:50051`;

/** Fast lease timing, so failover tests take seconds. */
const LEASE_ARGS = ['--lease-duration-ms', '3000', '--renew-deadline-ms', '2000', '--retry-period-ms', '500'];

/** `images`: more image repositories the node agent runs (a test's broken image, say). */
export async function startOperatorCluster(images: Record<string, string[]> = {}): Promise<OperatorCluster> {
  const cluster = await startControlPlane();
  const dir = mkdtempSync(join(tmpdir(), 'engram-operator-test-'));
  const agent = new NodeAgent({ kubeconfig: cluster.kubeconfig, nodeName: 'engram-node-0', rootDir: join(dir, 'node'), images: { ...localImages(REPO_ROOT), ...images } });
  await agent.start();
  await cluster.kubectl(['apply', '-f', join(REPO_ROOT, 'crds')]);
  await cluster.waitEstablished('engramstreams.engram.io');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const operators: OperatorProcess[] = [];

  const startOperator = async (identity: string, extraArgs: string[] = []): Promise<OperatorProcess> => {
    const logFile = join(dir, `operator-${identity}.log`);
    const log = createWriteStream(logFile, { flags: 'a' });
    const child = spawn(process.execPath, [OPERATOR_MAIN, '--kubeconfig', cluster.kubeconfig, '--health-host', '127.0.0.1', '--health-port', '0',
      '--identity', identity, '--leader-election-namespace', 'default', ...LEASE_ARGS, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr.pipe(log);
    const port = await new Promise<number>((resolve, reject) => {
      let buffered = '';
      child.stdout.on('data', (chunk: Buffer) => {
        log.write(chunk);
        buffered += chunk.toString();
        const m = /"message":"health and metrics server listening","port":(\d+)/.exec(buffered);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`operator ${identity} exited with ${code} before listening; see ${logFile}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const operator: OperatorProcess = {
      identity, process: child, port, logFile,
      metrics: async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
      stop: async () => {
        child.kill('SIGTERM');
        return exited;
      },
      kill: async () => {
        child.kill('SIGKILL');
        await exited;
      },
    };
    operators.push(operator);
    return operator;
  };

  return {
    cluster, agent, kc, dir, startOperator,
    kubectl: (args, input) => cluster.kubectl(args, input),
    adminKey: (stream, namespace = 'default') => eventually(`the admin key of ${stream}`, async () => {
      const encoded = await cluster.kubectl(['get', 'secret', `${stream}-admin-key`, '-n', namespace, '-o', 'jsonpath={.data.key}']).catch(() => '');
      return encoded ? Buffer.from(encoded, 'base64').toString('utf8') : undefined;
    }, 60_000),
    readyEnginePods: async (stream, namespace = 'default') => {
      const list = JSON.parse(await cluster.kubectl(['get', 'pods', '-n', namespace, '-l', `engram.io/stream=${stream}`, '-o', 'json'])) as { items: EnginePod[] };
      // A terminating pod says Ready until its process is gone; like an EndpointSlice, leave it out.
      return list.items.filter((p) => !p.metadata.deletionTimestamp && p.status.podIP && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    },
    diagnose: async () => {
      const show = (...args: string[]) => cluster.kubectl(args).catch((e: Error) => `(${args.join(' ')}: ${e.message})`);
      return [
        `pods:\n${await show('get', 'pods', '-A', '-o', 'wide')}`,
        `statefulsets:\n${await show('get', 'statefulsets', '-A')}`,
        `claims:\n${await show('get', 'pvc', '-A')}`,
        `events:\n${await show('get', 'events', '-A', '--sort-by=.lastTimestamp')}`,
      ].join('\n');
    },
    stop: async () => {
      for (const o of operators) if (o.process.exitCode === null && o.process.signalCode === null) o.process.kill('SIGKILL');
      await agent.stop();
      await cluster.stop();
    },
  };
}
