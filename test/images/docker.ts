// The Docker engine for the image tests: Debian's dockerd, started by start-dockerd.sh if none
// answers, and local stand-ins for the public base images (make-base-images.sh).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../operator/operator-harness.js';

const run = promisify(execFile);
const HERE = join(REPO_ROOT, 'test', 'images');

export async function docker(args: string[], timeoutMs = 120_000): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs });
  return stdout.trim();
}

export async function startDocker(): Promise<void> {
  await run('bash', [join(HERE, 'start-dockerd.sh')], { timeout: 60_000 });
}

/** Builds the base stand-ins if missing; returns the build-stage and runtime base images. */
export async function localBaseImages(): Promise<{ build: string; runtime: string }> {
  const { stdout } = await run('bash', [join(HERE, 'make-base-images.sh')], { timeout: 15 * 60_000, maxBuffer: 64 * 1024 * 1024 });
  const [build, runtime] = stdout.trim().split('\n').at(-1)!.split(' ') as [string, string];
  return { build, runtime };
}

/** `docker build` of one of the repository's Dockerfiles, from the repository root as context. */
export async function buildImage(dockerfile: string, tag: string, base: { build: string; runtime: string }): Promise<void> {
  await docker(['build', '--network', 'host', '-f', join(REPO_ROOT, dockerfile),
    '--build-arg', `BUILD_IMAGE=${base.build}`, '--build-arg', `RUNTIME_IMAGE=${base.runtime}`, '-t', tag, REPO_ROOT], 20 * 60_000);
}
