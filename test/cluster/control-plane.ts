// Starts a real Kubernetes control plane on loopback for tests: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler built by build-control-plane.sh, with certificates,
// service-account keys and an admin kubeconfig generated into a fresh directory. Each call is a
// fresh cluster (fresh etcd data); stop() kills every process by pid, also after a failed test.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/free-port.js';

/** Beside this file in the source tree; two levels up from the compiled copy in test/dist/cluster. */
const BUILD_SCRIPT = [new URL('./build-control-plane.sh', import.meta.url), new URL('../../cluster/build-control-plane.sh', import.meta.url)]
  .map((u) => fileURLToPath(u)).find((path) => existsSync(path)) as string;

export interface ControlPlane {
  dir: string;
  kubeconfig: string;
  server: string;
  versions: Record<string, string>;
  /** Kills the API server, waits `downMs`, starts it again (same etcd, same port) and waits until ready. */
  restartApiServer(downMs: number): Promise<void>;
  /** The kubectl built with the control plane (same version). */
  kubectlPath: string;
  /** Runs kubectl against this cluster; resolves with stdout, rejects with stderr in the message. */
  kubectl(args: string[], input?: string): Promise<string>;
  /** Waits until a CustomResourceDefinition is Established (its kind is served). */
  waitEstablished(crd: string, timeoutMs?: number): Promise<void>;
  logs(component: string): string;
  stop(): Promise<void>;
}


function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, the API server's serving certificate, an admin client certificate, service-account keys. */
function makeCertificates(dir: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=engram-test-ca']);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n');
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver']);
  openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext']);
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'admin.key', '-out', 'admin.csr', '-subj', '/O=system:masters/CN=engram-test-admin']);
  openssl(dir, ['x509', '-req', '-in', 'admin.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'admin.crt', '-days', '2', '-extfile', 'client.ext']);
  openssl(dir, ['genrsa', '-out', 'sa.key', '2048']);
  openssl(dir, ['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
}

function writeKubeconfig(dir: string, server: string): string {
  const path = join(dir, 'admin.kubeconfig');
  writeFileSync(path, [
    'apiVersion: v1', 'kind: Config', 'current-context: test',
    'clusters:', `- name: test`, '  cluster:', `    server: ${server}`, `    certificate-authority: ${join(dir, 'ca.crt')}`,
    'users:', '- name: admin', '  user:', `    client-certificate: ${join(dir, 'admin.crt')}`, `    client-key: ${join(dir, 'admin.key')}`,
    'contexts:', '- name: test', '  context:', '    cluster: test', '    user: admin', '',
  ].join('\n'));
  return path;
}

async function waitHealthy(url: string, what: string, ca: string, cert: string, key: string, timeoutMs: number, processes: ChildProcess[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    for (const p of processes) if (p.exitCode !== null) throw new Error(`${what}: a control-plane process exited with ${p.exitCode}`);
    try {
      const out = execFileSync('curl', ['-s', '--max-time', '2', '--cacert', ca, '--cert', cert, '--key', key, url], { encoding: 'utf8' });
      if (out.trim() === 'ok') return;
      last = out.slice(0, 300);
    } catch (e) {
      last = String(e).slice(0, 300);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} not healthy after ${timeoutMs} ms: ${last}`);
}

export async function startControlPlane(): Promise<ControlPlane> {
  const bin = execFileSync('bash', [BUILD_SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop()!;
  const dir = mkdtempSync(join(tmpdir(), 'engram-cluster-'));
  makeCertificates(dir);
  const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfig = writeKubeconfig(dir, server);
  const processes: ChildProcess[] = [];
  // If the test process dies without calling stop(), take the control plane with it.
  const killAll = (): void => {
    for (const p of processes) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  };
  process.once('exit', killAll);
  const argsOf = new Map<string, string[]>();
  const processOf = new Map<string, ChildProcess>();
  const start = (name: string, args: string[]): void => {
    const out = openSync(join(dir, `${name}.log`), 'a');
    const child = spawn(join(bin, name), args, { stdio: ['ignore', out, out] });
    processes.push(child);
    argsOf.set(name, args);
    processOf.set(name, child);
  };
  const versions: Record<string, string> = {};
  for (const name of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
    versions[name] = execFileSync(join(bin, name), ['--version'], { encoding: 'utf8' }).split('\n')[0]!.trim();
  }
  const f = (file: string) => join(dir, file);
  start('etcd', [
    '--name', 'test', '--data-dir', f('etcd-data'), '--unsafe-no-fsync',
    '--listen-client-urls', `http://127.0.0.1:${etcdClient}`, '--advertise-client-urls', `http://127.0.0.1:${etcdClient}`,
    '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
    '--initial-cluster', `test=http://127.0.0.1:${etcdPeer}`,
  ]);
  start('kube-apiserver', [
    '--etcd-servers', `http://127.0.0.1:${etcdClient}`, '--bind-address', '127.0.0.1', '--advertise-address', '127.0.0.1',
    '--secure-port', String(apiPort), '--tls-cert-file', f('server.crt'), '--tls-private-key-file', f('server.key'),
    '--client-ca-file', f('ca.crt'), '--service-account-key-file', f('sa.pub'), '--service-account-signing-key-file', f('sa.key'),
    '--service-account-issuer', 'https://kubernetes.default.svc.cluster.local', '--service-cluster-ip-range', '10.0.0.0/24',
    '--authorization-mode', 'RBAC', '--allow-privileged', '--endpoint-reconciler-type', 'none',
  ]);
  try {
    await waitHealthy(`${server}/readyz`, 'kube-apiserver', f('ca.crt'), f('admin.crt'), f('admin.key'), 60_000, processes);
    start('kube-controller-manager', [
      '--kubeconfig', kubeconfig, '--authentication-kubeconfig', kubeconfig, '--authorization-kubeconfig', kubeconfig,
      '--bind-address', '127.0.0.1', '--secure-port', String(await freePort()), '--leader-elect=false',
      '--service-account-private-key-file', f('sa.key'), '--root-ca-file', f('ca.crt'), '--use-service-account-credentials=false',
      '--controllers', '*', '--node-monitor-grace-period', '60s',
    ]);
    start('kube-scheduler', [
      '--kubeconfig', kubeconfig, '--authentication-kubeconfig', kubeconfig, '--authorization-kubeconfig', kubeconfig,
      '--bind-address', '127.0.0.1', '--secure-port', String(await freePort()), '--leader-elect=false',
    ]);
  } catch (e) {
    for (const p of processes) p.kill('SIGKILL');
    throw e;
  }
  const stop = async (): Promise<void> => {
    process.removeListener('exit', killAll);
    await Promise.all(processes.reverse().map((p) => new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve();
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
      setTimeout(() => p.kill('SIGKILL'), 5000).unref();
    })));
    rmSync(dir, { recursive: true, force: true });
  };
  const restartApiServer = async (downMs: number): Promise<void> => {
    const old = processOf.get('kube-apiserver')!;
    await new Promise<void>((resolve) => {
      old.once('exit', () => resolve());
      old.kill('SIGKILL'); // a crash; a graceful stop waits about a minute for open watches
    });
    processes.splice(processes.indexOf(old), 1);
    await new Promise((r) => setTimeout(r, downMs));
    start('kube-apiserver', argsOf.get('kube-apiserver')!);
    await waitHealthy(`${server}/readyz`, 'kube-apiserver', f('ca.crt'), f('admin.crt'), f('admin.key'), 60_000, processes);
  };
  const kubectlPath = join(bin, 'kubectl');
  const kubectl = (args: string[], input?: string): Promise<string> => new Promise((resolve, reject) => {
    const child = execFile(kubectlPath, ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`kubectl ${args.join(' ')}: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
  // Polled and read here rather than `kubectl wait --for=condition=Established` (or a jsonpath
  // filter): until the controller first writes the CRD's conditions they are null, and both fail at
  // once ("<nil> is of the type <nil>", "<nil> is not array or slice") instead of waiting; CI met both.
  const waitEstablished = async (crd: string, timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    const established = async () => {
      const { status } = JSON.parse(await kubectl(['get', 'crd', crd, '-o', 'json'])) as { status?: { conditions?: Array<{ type: string; status: string }> | null } };
      return (status?.conditions ?? []).some((c) => c.type === 'Established' && c.status === 'True');
    };
    while (!(await established())) {
      if (Date.now() > deadline) throw new Error(`crd/${crd} not Established within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return {
    dir, kubeconfig, server, versions, stop, kubectlPath, kubectl, restartApiServer, waitEstablished,
    logs: (component) => {
      try {
        return execFileSync('tail', ['-n', '50', join(dir, `${component}.log`)], { encoding: 'utf8' });
      } catch {
        return '';
      }
    },
  };
}
