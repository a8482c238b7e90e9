// A real Prometheus (Debian's package) for tests: started on a free port with a scrape config
// and rule files, queried over its HTTP API, stopped with the test.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { freePort } from '../helpers/free-port.js';

export interface ScrapeTarget {
  job: string;
  address: string;
  /** Labels the target's series get, as a ServiceMonitor's relabelling would give them. */
  labels: Record<string, string>;
  /** Keep the target's own `namespace` labels (the operator's per-stream series). */
  honorLabels?: boolean;
  /** A bearer key the target wants (engines with API keys: the stream's metrics key). */
  bearer?: string;
}

export interface PrometheusServer {
  url: string;
  logFile: string;
  /** Instant query; the result vector (empty when the query selects nothing). */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  rules(): Promise<Array<{ name: string; health: string; lastError?: string; state?: string }>>;
  stop(): Promise<void>;
}


/**
 * `fileTargets`: a job whose targets come from a file the test rewrites as pods come and go (file
 * service discovery, as a ServiceMonitor's endpoints would change).
 */
export async function startPrometheus(targets: ScrapeTarget[], ruleFiles: string[], scrapeIntervalS = 1, fileTargets?: { job: string; file: string }): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'engram-prometheus-'));
  const config = {
    global: { scrape_interval: `${scrapeIntervalS}s`, evaluation_interval: `${scrapeIntervalS}s`, scrape_timeout: `${scrapeIntervalS}s` },
    rule_files: ruleFiles,
    scrape_configs: [
      ...targets.map((t) => ({
        job_name: t.job, honor_labels: t.honorLabels ?? false, static_configs: [{ targets: [t.address], labels: t.labels }],
        ...(t.bearer ? { authorization: { type: 'Bearer', credentials: t.bearer } } : {}),
      })),
      ...(fileTargets ? [{ job_name: fileTargets.job, file_sd_configs: [{ files: [fileTargets.file], refresh_interval: '1s' }] }] : []),
    ],
  };
  writeFileSync(join(dir, 'prometheus.yml'), yaml.dump(config));
  const port = await freePort();
  const logFile = join(dir, 'prometheus.log');
  const log = createWriteStream(logFile);
  const child: ChildProcess = spawn('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}; see ${logFile}`);
    if ((await fetch(`${url}/-/ready`).catch(() => null))?.status === 200) break;
    if (Date.now() > deadline) throw new Error(`prometheus not ready within 30 s; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const api = async <T>(path: string): Promise<T> => {
    const body = await (await fetch(`${url}${path}`)).json() as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error}`);
    return body.data;
  };
  return {
    url, logFile,
    query: async (expr) => (await api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result,
    rules: async () => (await api<{ groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string; state?: string }> }> }>('/api/v1/rules')).groups.flatMap((g) => g.rules),
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
