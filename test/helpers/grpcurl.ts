// The pinned grpcurl (test/tools/build-grpcurl.sh builds it from its upstream Go module, cached):
// the generic gRPC client users point at a server to see what it serves.
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO_ROOT = join(import.meta.dirname, '..', '..');

export function grpcurlPath(): string {
  const out = execFileSync('bash', [join(REPO_ROOT, 'test', 'tools', 'build-grpcurl.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 15 * 60_000 });
  return out.trim().split('\n').at(-1)!;
}

/** Runs grpcurl with `args`; resolves with stdout, rejects with its stderr in the message. */
export async function grpcurl(binary: string, args: string[]): Promise<string> {
  try {
    return (await run(binary, args, { timeout: 30_000 })).stdout;
  } catch (e) {
    throw new Error(`grpcurl ${args.join(' ')} failed: ${(e as { stderr?: string }).stderr ?? String(e)}`);
  }
}
