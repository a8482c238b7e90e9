// A test-only node agent: registers a Node, runs each container of the pods scheduled to it as a
// local process, and reports pod status back like a kubelet would. See README.md for what it does
// not emulate.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { VolumeProvisioner } from './volume-provisioner.js';

export interface NodeAgentOptions {
  kubeconfig: string;
  nodeName: string;
  /** Where pod directories go. */
  rootDir: string;
  /** Image repository (tag ignored) → the command that stands for its entry point. */
  images: Record<string, string[]>;
}

interface Container {
  spec: k8s.V1Container;
  process: ChildProcess | null;
  restartCount: number;
  ready: boolean;
  startedAt: Date | null;
  lastExit: { exitCode: number; finishedAt: Date } | null;
  probeTimer: NodeJS.Timeout | null;
  restartTimer: NodeJS.Timeout | null;
  /** Why the container could not start (reported as its waiting reason). */
  startError: { reason: string; message: string } | null;
}

interface Pod {
  uid: string;
  name: string;
  namespace: string;
  ip: string;
  dir: string;
  spec: k8s.V1PodSpec;
  containers: Map<string, Container>;
  startTime: Date;
  terminating: boolean;
}

const HEARTBEAT_MS = 5000;

/**
 * The project's own images, mapped to their local entry points under the repository root: what
 * the agent runs instead of pulling an image. Tests add their own fixtures.
 */
export function localImages(repoRoot: string): Record<string, string[]> {
  return {
    'engram.io/engine': [process.execPath, join(repoRoot, 'engine', 'dist', 'cli', 'main.js')],
    'engram.io/operator': [process.execPath, join(repoRoot, 'operator', 'dist', 'main.js')],
    'engram.io/test/http-server': [process.execPath, join(repoRoot, 'test', 'cluster', 'fixtures', 'http-server.mjs')],
  };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Kubernetes' `$(VAR)` expansion in args: a defined variable is replaced, `$$` escapes, others stay. */
export function expandVars(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (match, name: string | undefined) =>
    (match === '$$' ? '$' : name !== undefined && env[name] !== undefined ? env[name] : match));
}

/**
 * What a pod's own network and mount namespaces would give its processes, emulated on a shared
 * host: the wildcard address 0.0.0.0 means the pod's address (so two pods can serve one port), and
 * a path under a volume mount means that path under the pod's root. Applied to args and env values,
 * also after `--flag=`.
 */
export function podLocalizer(podIp: string, rootfs: string, mounts: k8s.V1VolumeMount[]): (value: string) => string {
  const mountPaths = mounts.map((m) => m.mountPath.replace(/\/+$/, '')).sort((a, b) => b.length - a.length);
  const one = (v: string): string => {
    if (v === '0.0.0.0') return podIp;
    const mount = mountPaths.find((m) => v === m || v.startsWith(`${m}/`));
    return mount ? join(rootfs, v) : v;
  };
  return (value) => {
    const eq = value.startsWith('--') ? value.indexOf('=') : -1;
    return eq > 0 ? `${value.slice(0, eq + 1)}${one(value.slice(eq + 1))}` : one(value);
  };
}

export class NodeAgent {
  private readonly kc = new k8s.KubeConfig();
  private readonly core: k8s.CoreV1Api;
  private readonly pods = new Map<string, Pod>();
  private readonly freeIps = Array.from({ length: 240 }, (_, i) => `127.0.0.${i + 10}`);
  private readonly provisioner: VolumeProvisioner;
  private heartbeat: NodeJS.Timeout | null = null;
  private watchAbort: AbortController | null = null;
  private stopped = false;
  /** If the test process dies without stop(), its pods' processes go with it. */
  private readonly killAll = (): void => {
    for (const pod of this.pods.values()) for (const c of pod.containers.values()) c.process?.kill('SIGKILL');
  };

  constructor(private readonly options: NodeAgentOptions) {
    this.kc.loadFromFile(options.kubeconfig);
    this.core = this.kc.makeApiClient(k8s.CoreV1Api);
    this.provisioner = new VolumeProvisioner(this.kc, join(options.rootDir, 'persistent-volumes'));
    process.once('exit', this.killAll);
  }

  async start(): Promise<void> {
    mkdirSync(this.options.rootDir, { recursive: true });
    await this.core.createNode({ body: { metadata: { name: this.options.nodeName, labels: { 'kubernetes.io/hostname': this.options.nodeName, 'kubernetes.io/os': 'linux' } } } });
    await this.reportNode();
    this.heartbeat = setInterval(() => void this.reportNode().catch(() => undefined), HEARTBEAT_MS);
    await this.provisioner.start();
    this.watchPods();
  }

  /** Node status: capacity, addresses and a Ready condition whose heartbeat keeps the node alive. */
  private async reportNode(): Promise<void> {
    const node = await this.core.readNode({ name: this.options.nodeName });
    const now = new Date();
    node.status = {
      capacity: { cpu: '2', memory: '24Gi', pods: '110' },
      allocatable: { cpu: '2', memory: '24Gi', pods: '110' },
      addresses: [{ type: 'InternalIP', address: '127.0.0.1' }, { type: 'Hostname', address: this.options.nodeName }],
      conditions: [{ type: 'Ready', status: 'True', reason: 'NodeAgentReady', message: 'engram test node agent is running', lastHeartbeatTime: now, lastTransitionTime: node.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime ?? now }],
      nodeInfo: {
        architecture: process.arch, operatingSystem: 'linux', kernelVersion: '', osImage: 'engram node agent', containerRuntimeVersion: 'process://node-agent',
        kubeletVersion: 'v0.0.0-engram-node-agent', kubeProxyVersion: '', machineID: this.options.nodeName, systemUUID: this.options.nodeName, bootID: this.options.nodeName,
      },
    };
    await this.core.replaceNodeStatus({ name: this.options.nodeName, body: node });
  }

  /**
   * Watches this node's pods. A watch that ends (timeouts, errors) or cannot start (the API
   * server answering 429 while it is busy) is started again: ADDED events for existing pods are
   * idempotent. (A failed restart used to be dropped, leaving the node deaf to new pods.)
   */
  private watchPods(): void {
    if (this.stopped) return;
    let restarted = false;
    const again = (): void => {
      if (restarted || this.stopped) return;
      restarted = true;
      setTimeout(() => this.watchPods(), 500);
    };
    new k8s.Watch(this.kc).watch('/api/v1/pods', { fieldSelector: `spec.nodeName=${this.options.nodeName}` },
      (phase: string, pod: k8s.V1Pod) => void this.onPodEvent(phase, pod).catch(() => undefined),
      again,
    ).then((abort) => {
      this.watchAbort = abort;
    }, again);
  }

  private async onPodEvent(phase: string, pod: k8s.V1Pod): Promise<void> {
    const uid = pod.metadata?.uid as string;
    const running = this.pods.get(uid);
    if (phase === 'DELETED') {
      if (running) await this.terminate(running, 0);
      return;
    }
    if (pod.metadata?.deletionTimestamp) {
      if (running && !running.terminating) {
        await this.terminate(running, pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30);
      }
      if (running || !this.pods.has(uid)) await this.finalizeDeletion(pod);
      return;
    }
    if (!running) await this.startPod(pod);
  }

  private async startPod(pod: k8s.V1Pod): Promise<void> {
    const meta = pod.metadata!;
    const ip = this.freeIps.shift();
    if (!ip) throw new Error('node agent is out of pod addresses');
    const dir = join(this.options.rootDir, `${meta.namespace}_${meta.name}_${meta.uid}`);
    const running: Pod = {
      uid: meta.uid!, name: meta.name!, namespace: meta.namespace!, ip, dir, spec: pod.spec!,
      containers: new Map(), startTime: new Date(), terminating: false,
    };
    this.pods.set(running.uid, running);
    mkdirSync(join(dir, 'rootfs'), { recursive: true });
    mkdirSync(join(dir, 'logs'), { recursive: true });
    let volumeError: string | null = null;
    await this.materializeVolumes(running).catch((e: unknown) => {
      volumeError = e instanceof Error ? e.message : String(e);
    });
    for (const spec of pod.spec?.containers ?? []) {
      const container: Container = { spec, process: null, restartCount: 0, ready: false, startedAt: null, lastExit: null, probeTimer: null, restartTimer: null, startError: null };
      running.containers.set(spec.name, container);
      if (volumeError !== null) {
        container.startError = { reason: 'CreateContainerConfigError', message: volumeError };
        continue;
      }
      try {
        await this.startContainer(running, container);
      } catch (e) {
        container.startError = { reason: 'CreateContainerError', message: e instanceof Error ? e.message : String(e) };
      }
    }
    await this.reportPod(running);
  }

  /** configMap, secret and emptyDir volumes as files; a mount is a link under the pod's rootfs. */
  private async materializeVolumes(pod: Pod): Promise<void> {
    for (const volume of pod.spec.volumes ?? []) {
      const dir = join(pod.dir, 'volumes', volume.name);
      if (volume.persistentVolumeClaim) {
        mkdirSync(dirname(dir), { recursive: true });
        symlinkSync(await this.volumeDirectory(pod.namespace, volume.persistentVolumeClaim.claimName), dir);
        continue;
      }
      mkdirSync(dir, { recursive: true });
      if (volume.configMap) {
        const cm = await this.core.readNamespacedConfigMap({ name: volume.configMap.name!, namespace: pod.namespace });
        for (const [key, value] of Object.entries(cm.data ?? {})) writeFileSync(join(dir, key), value);
      } else if (volume.secret) {
        const secret = await this.core.readNamespacedSecret({ name: volume.secret.secretName!, namespace: pod.namespace });
        for (const [key, value] of Object.entries(secret.data ?? {})) writeFileSync(join(dir, key), Buffer.from(value, 'base64'));
      }
    }
    for (const spec of pod.spec.containers) {
      for (const mount of spec.volumeMounts ?? []) {
        const target = join(pod.dir, 'rootfs', mount.mountPath);
        mkdirSync(dirname(target), { recursive: true });
        rmSync(target, { force: true, recursive: true });
        symlinkSync(join(pod.dir, 'volumes', mount.name, mount.subPath ?? ''), target);
      }
    }
  }

  /** The host directory of the PersistentVolume bound to a claim (see volume-provisioner.ts). */
  private async volumeDirectory(namespace: string, claimName: string): Promise<string> {
    const claim = await this.core.readNamespacedPersistentVolumeClaim({ name: claimName, namespace });
    if (!claim.spec?.volumeName) throw new Error(`persistentVolumeClaim ${namespace}/${claimName} is not bound`);
    const volume = await this.core.readPersistentVolume({ name: claim.spec.volumeName });
    const path = volume.spec?.hostPath?.path ?? volume.spec?.local?.path;
    if (!path) throw new Error(`persistentVolume ${claim.spec.volumeName} has no hostPath or local path`);
    mkdirSync(path, { recursive: true });
    return path;
  }

  /**
   * The service-account token a kubelet projects into /var/run/secrets/kubernetes.io/serviceaccount,
   * as a kubeconfig in the pod's directory named by KUBECONFIG: processes on a shared host cannot
   * each see their own file at that fixed path. The token is a real one (TokenRequest, bound to the
   * pod), so the API server authenticates the pod as its service account and enforces its RBAC.
   */
  private async serviceAccountEnv(pod: Pod): Promise<Record<string, string>> {
    const account = pod.spec.serviceAccountName;
    if (!account || pod.spec.automountServiceAccountToken === false) return {};
    const request = await this.core.createNamespacedServiceAccountToken({
      name: account, namespace: pod.namespace,
      body: { spec: { audiences: [], expirationSeconds: 3600, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid } } },
    });
    const cluster = this.kc.getCurrentCluster()!;
    const ca = cluster.caData ?? (cluster.caFile ? readFileSync(cluster.caFile).toString('base64') : undefined);
    const kubeconfig = {
      apiVersion: 'v1', kind: 'Config', 'current-context': 'in-cluster',
      clusters: [{ name: 'in-cluster', cluster: { server: cluster.server, ...(ca ? { 'certificate-authority-data': ca } : {}) } }],
      users: [{ name: account, user: { token: request.status!.token } }],
      contexts: [{ name: 'in-cluster', context: { cluster: 'in-cluster', user: account, namespace: pod.namespace } }],
    };
    const path = join(pod.dir, 'serviceaccount', 'kubeconfig');
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, JSON.stringify(kubeconfig), { mode: 0o600 });
    const url = new URL(cluster.server);
    return { KUBECONFIG: path, KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port || '443' };
  }

  private async resolveEnv(pod: Pod, spec: k8s.V1Container): Promise<Record<string, string>> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: join(pod.dir, 'rootfs'),
      POD_NAME: pod.name, POD_NAMESPACE: pod.namespace, POD_IP: pod.ip, POD_ROOT: join(pod.dir, 'rootfs'),
      ...await this.serviceAccountEnv(pod),
    };
    for (const e of spec.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      const field = e.valueFrom?.fieldRef?.fieldPath;
      if (field === 'status.podIP') env[e.name] = pod.ip;
      else if (field === 'metadata.name') env[e.name] = pod.name;
      else if (field === 'metadata.namespace') env[e.name] = pod.namespace;
      const cmRef = e.valueFrom?.configMapKeyRef;
      if (cmRef) env[e.name] = (await this.core.readNamespacedConfigMap({ name: cmRef.name!, namespace: pod.namespace })).data?.[cmRef.key] ?? '';
      const secretRef = e.valueFrom?.secretKeyRef;
      if (secretRef) {
        const data = (await this.core.readNamespacedSecret({ name: secretRef.name!, namespace: pod.namespace })).data?.[secretRef.key];
        env[e.name] = data ? Buffer.from(data, 'base64').toString() : '';
      }
    }
    return env;
  }

  private entryPoint(spec: k8s.V1Container): string[] {
    if (spec.command?.length) return spec.command;
    const repository = (spec.image ?? '').replace(/(:[^/:]+)?(@sha256:.*)?$/, '');
    const entry = this.options.images[repository];
    if (!entry) throw new Error(`image ${spec.image} is not mapped to a local entry point`);
    return entry;
  }

  private async startContainer(pod: Pod, container: Container): Promise<void> {
    const [command, ...prefix] = this.entryPoint(container.spec);
    const log = createWriteStream(join(pod.dir, 'logs', `${container.spec.name}.log`), { flags: 'a' });
    const env = await this.resolveEnv(pod, container.spec);
    const localize = podLocalizer(pod.ip, join(pod.dir, 'rootfs'), container.spec.volumeMounts ?? []);
    for (const [name, value] of Object.entries(env)) env[name] = localize(value);
    const args = (container.spec.args ?? []).map((a) => localize(expandVars(a, env)));
    const child = spawn(command!, [...prefix, ...args], {
      cwd: join(pod.dir, 'rootfs'), env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    container.process = child;
    container.startedAt = new Date();
    container.ready = false;
    child.once('exit', (code, signal) => void this.onExit(pod, container, code ?? (signal ? 137 : 1)));
    this.scheduleProbe(pod, container, (container.spec.readinessProbe?.initialDelaySeconds ?? 0) * 1000);
  }

  private scheduleProbe(pod: Pod, container: Container, delayMs: number): void {
    if (container.probeTimer) clearTimeout(container.probeTimer);
    container.probeTimer = setTimeout(() => void this.probe(pod, container), delayMs);
  }

  /** Readiness from the container's readinessProbe (httpGet or tcpSocket); no probe = ready once running. */
  private async probe(pod: Pod, container: Container): Promise<void> {
    if (!container.process || pod.terminating) return;
    const probe = container.spec.readinessProbe;
    let ready = true;
    if (probe?.httpGet) {
      const port = this.resolvePort(container.spec, probe.httpGet.port);
      try {
        const res = await fetch(`http://${pod.ip}:${port}${probe.httpGet.path ?? '/'}`, { signal: AbortSignal.timeout((probe.timeoutSeconds ?? 1) * 1000) });
        ready = res.status >= 200 && res.status < 400;
      } catch {
        ready = false;
      }
    }
    if (ready !== container.ready) {
      container.ready = ready;
      await this.reportPod(pod).catch(() => undefined);
    }
    if (probe) this.scheduleProbe(pod, container, (probe.periodSeconds ?? 10) * 1000);
  }

  private resolvePort(spec: k8s.V1Container, port: number | string): number {
    if (typeof port === 'number') return port;
    const named = spec.ports?.find((p) => p.name === port)?.containerPort;
    return named ?? Number(port);
  }

  private async onExit(pod: Pod, container: Container, exitCode: number): Promise<void> {
    container.process = null;
    container.ready = false;
    container.lastExit = { exitCode, finishedAt: new Date() };
    if (container.probeTimer) clearTimeout(container.probeTimer);
    if (pod.terminating || this.stopped) return;
    const policy = pod.spec.restartPolicy ?? 'Always';
    if (policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0)) {
      const backoff = Math.min(10_000, 500 * 2 ** container.restartCount);
      container.restartCount++;
      container.restartTimer = setTimeout(() => void this.startContainer(pod, container).then(() => this.reportPod(pod)).catch(() => undefined), backoff);
    }
    await this.reportPod(pod).catch(() => undefined);
  }

  private podPhase(pod: Pod): string {
    const all = [...pod.containers.values()];
    if (all.some((c) => c.process)) return 'Running';
    const allExited = all.every((c) => c.lastExit);
    const allSucceeded = all.every((c) => c.lastExit?.exitCode === 0);
    const policy = pod.spec.restartPolicy ?? 'Always';
    // Finished for good: nothing will restart them.
    if (allExited && (policy === 'Never' || (policy === 'OnFailure' && allSucceeded))) return allSucceeded ? 'Succeeded' : 'Failed';
    return all.some((c) => c.lastExit) ? 'Running' : 'Pending';
  }

  /** Writes the pod's status (phase, IP, conditions, container states) through the status subresource. */
  private async reportPod(pod: Pod): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      let current: k8s.V1Pod;
      try {
        current = await this.core.readNamespacedPod({ name: pod.name, namespace: pod.namespace });
      } catch {
        return; // gone
      }
      if (current.metadata?.uid !== pod.uid) return;
      const containers = [...pod.containers.values()];
      const allReady = containers.every((c) => c.ready);
      const now = new Date();
      const condition = (type: string, status: boolean) => ({ type, status: status ? 'True' : 'False', lastTransitionTime: now });
      current.status = {
        phase: this.podPhase(pod), hostIP: '127.0.0.1', podIP: pod.ip, podIPs: [{ ip: pod.ip }], startTime: pod.startTime,
        conditions: [condition('PodScheduled', true), condition('Initialized', true), condition('ContainersReady', allReady), condition('Ready', allReady)],
        containerStatuses: containers.map((c) => ({
          name: c.spec.name, image: c.spec.image ?? '', imageID: '', ready: c.ready, started: !!c.process, restartCount: c.restartCount,
          containerID: c.process ? `process://${c.process.pid}` : undefined,
          state: c.process ? { running: { startedAt: c.startedAt ?? now } }
            : c.lastExit ? { terminated: { exitCode: c.lastExit.exitCode, finishedAt: c.lastExit.finishedAt, reason: c.lastExit.exitCode === 0 ? 'Completed' : 'Error' } }
              : { waiting: c.startError ?? { reason: 'ContainerCreating' } },
          ...(c.lastExit && c.process ? { lastState: { terminated: { exitCode: c.lastExit.exitCode, finishedAt: c.lastExit.finishedAt } } } : {}),
        })),
      };
      try {
        await this.core.replaceNamespacedPodStatus({ name: pod.name, namespace: pod.namespace, body: current });
        return;
      } catch (e) {
        if ((e as { code?: number }).code !== 409) return;
      }
    }
  }

  /** SIGTERM, then SIGKILL after the grace period. */
  private async terminate(pod: Pod, graceSeconds: number): Promise<void> {
    pod.terminating = true;
    for (const c of pod.containers.values()) {
      if (c.probeTimer) clearTimeout(c.probeTimer);
      if (c.restartTimer) clearTimeout(c.restartTimer);
    }
    const running = [...pod.containers.values()].map((c) => c.process).filter((p): p is ChildProcess => !!p);
    for (const p of running) p.kill('SIGTERM');
    const deadline = Date.now() + graceSeconds * 1000;
    while (running.some((p) => p.exitCode === null && p.signalCode === null) && Date.now() < deadline) await sleep(50);
    for (const p of running) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    while (running.some((p) => p.exitCode === null && p.signalCode === null)) await sleep(20);
    this.pods.delete(pod.uid);
    this.freeIps.push(pod.ip);
  }

  /** What the kubelet does once containers are gone: remove the pod object for good. */
  private async finalizeDeletion(pod: k8s.V1Pod): Promise<void> {
    try {
      // With a body, the API server reads the delete options from it, not from query parameters.
      await this.core.deleteNamespacedPod({
        name: pod.metadata!.name!, namespace: pod.metadata!.namespace!,
        body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata!.uid } },
      });
    } catch (e) {
      // 404: already gone; 409: gone and a pod of the same name created since (a StatefulSet's);
      // after stop(): the cluster may be going down with the request in flight
      const code = (e as { code?: number }).code;
      if (code !== 404 && code !== 409 && !this.stopped) console.error('node agent: deleting pod failed', e);
    }
  }

  /** Stops every process (SIGKILL after 5 s) and the watch; the Node object is left to the cluster. */
  async stop(): Promise<void> {
    this.stopped = true;
    process.removeListener('exit', this.killAll);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.watchAbort?.abort();
    await this.provisioner.stop();
    await Promise.all([...this.pods.values()].map((p) => this.terminate(p, 5)));
  }

  /** Process ids of a pod's running containers (for tests). */
  pidsOf(namespace: string, name: string): number[] {
    const pod = [...this.pods.values()].find((p) => p.namespace === namespace && p.name === name);
    return pod ? [...pod.containers.values()].flatMap((c) => (c.process?.pid ? [c.process.pid] : [])) : [];
  }
}
