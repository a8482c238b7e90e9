// The pinned helm binary (test/tools/build-helm.sh builds it from its upstream Go module, cached).
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { REPO_ROOT } from '../operator/operator-harness.js';

const run = promisify(execFile);
export const CHART = join(REPO_ROOT, 'charts', 'engram-operator');
/** The test cluster's version, for `helm template` (which otherwise assumes an old one). */
export const KUBE_VERSION = '1.36.3';

export function helmPath(): string {
  const out = execFileSync('bash', [join(REPO_ROOT, 'test', 'tools', 'build-helm.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 15 * 60_000 });
  return out.trim().split('\n').at(-1)!;
}

export interface Helm {
  (args: string[]): Promise<string>;
}

/** Runs helm (against `kubeconfig` if given); resolves with stdout, rejects with stderr in the message. */
export function helm(binary: string, kubeconfig?: string): Helm {
  return async (args) => {
    try {
      const { stdout } = await run(binary, args, {
        env: { ...process.env, ...(kubeconfig ? { KUBECONFIG: kubeconfig } : {}), HELM_CACHE_HOME: join(REPO_ROOT, '.tmp', 'helm', 'cache'), HELM_CONFIG_HOME: join(REPO_ROOT, '.tmp', 'helm', 'config'), HELM_DATA_HOME: join(REPO_ROOT, '.tmp', 'helm', 'data') },
        maxBuffer: 32 * 1024 * 1024, timeout: 5 * 60_000,
      });
      return stdout;
    } catch (e) {
      const err = e as { stderr?: string; stdout?: string; message: string };
      throw new Error(`helm ${args.join(' ')}: ${[err.stderr, err.stdout].filter(Boolean).join('\n') || err.message}`);
    }
  };
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export function parseManifests(text: string): K8sObject[] {
  return yaml.loadAll(text).filter((d): d is K8sObject => !!d && typeof d === 'object');
}
