// The README's front door on a fresh clone, as a new user meets it: `git clone`, `npm ci`, then
// `npm start` and every command of its "with the engine running" block, exactly as written (they
// once failed with a 404 from the registry, because npm does not link a workspace bin that
// `prepare` builds later; a working tree with dist/ already built hid it). Then every entry point
// answers --help and names an unknown flag instead of crashing.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../operator/operator-harness.js';

const run = promisify(execFile);
const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

/** The commands of the README's ```sh block that follows `marker`, comments stripped. */
function commandsAfter(marker: string): string[] {
  const from = README.indexOf(marker);
  if (from < 0) throw new Error(`README has no '${marker}'`);
  const block = /```sh\n([\s\S]*?)```/.exec(README.slice(from))?.[1] ?? '';
  return block.split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter((l) => l.length > 0);
}

async function sh(command: string, cwd: string, timeoutMs = 10 * 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('bash', ['-c', command], { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const error = e as { code: number; stdout: string; stderr: string };
    return { code: typeof error.code === 'number' ? error.code : 1, stdout: error.stdout, stderr: error.stderr };
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Whether any process of the group `pgid` still runs (signal 0 checks without sending). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the README on a fresh clone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'engram-clone-'));
  const clone = join(dir, 'engram-stream');
  let engine: ChildProcess | null = null;
  const engineLog: string[] = [];

  beforeAll(async () => {
    // What is committed, without the working tree's node_modules or dist/.
    const cloned = await sh(`git clone --quiet --no-hardlinks ${JSON.stringify(REPO_ROOT)} ${JSON.stringify(clone)}`, dir);
    expect(cloned.stderr).toBe('');
    const setUp = commandsAfter('## Quick start')[0]!;
    expect(setUp).toBe('npm ci');
    // The set-up command as written; --prefer-offline only reuses the packages npm already fetched.
    const installed = await sh(`${setUp} --prefer-offline --no-audit --no-fund`, clone);
    expect(installed.code, installed.stderr).toBe(0);
  }, 15 * 60_000);

  afterAll(async () => {
    if (engine && engine.exitCode === null) {
      // npm and the engine under it are one process group: stop both (no engine left on the README's ports)
      const group = engine.pid!;
      process.kill(-group, 'SIGTERM');
      await new Promise((r) => engine!.once('exit', r));
      // npm exits before the engine under it has written its last snapshot: wait for the whole group
      // (at most 30 s: an exited process that nobody reaped yet still counts as alive)
      for (let waited = 0; waited < 30_000 && groupAlive(group); waited += 200) await new Promise((r) => setTimeout(r, 200));
    }
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 500 });
  });

  it('runs `npm start` and every command of the "engine running" block as written', async () => {
    expect(commandsAfter('## Quick start')[1]).toBe('npm start');
    engine = spawn('npm', ['start'], { cwd: clone, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    engine.stdout!.on('data', (d: Buffer) => engineLog.push(d.toString()));
    engine.stderr!.on('data', (d: Buffer) => engineLog.push(d.toString()));
    await until('the engine to report ready', () => fetch('http://127.0.0.1:9464/readyz').then((r) => r.status === 200, () => false), 60_000);

    const commands = commandsAfter('With the engine running');
    expect(commands.length).toBeGreaterThanOrEqual(5);
    for (const command of commands) {
      const result = await sh(command, clone, 5 * 60_000);
      expect(result.code, `${command}\n${result.stderr}`).toBe(0);
      expect(result.stderr).not.toContain('404');
      if (command.includes('observe')) expect(result.stderr).toMatch(/indexed 20000\b/);
      if (command.includes('recall')) expect(result.stdout).toMatch(/demo-\d+/);
      if (command.startsWith('curl')) expect(result.stdout).toContain('engram_streaming_observations_total');
    }
  }, 10 * 60_000);

  it.each([
    ['npx engram --help', 'usage: engram <command>'],
    ['npx engram-operator --help', 'usage: engram-operator'],
    ['npx engram-operator chart-test --help', 'usage: engram-operator chart-test'],
    ['npx kubectl-engram --help', 'usage: kubectl engram'],
    ['node bench/dist/profiles.js --help', 'usage: node bench/dist/profiles.js'],
    ['node bench/dist/stealing.js --help', 'usage: node bench/dist/stealing.js'],
    ['node bench/dist/durable-ingest.js --help', 'usage: node bench/dist/durable-ingest.js'],
    ['node bench/dist/stress.js --help', 'usage: node bench/dist/stress.js'],
    ['node bench/dist/kill-soak.js --help', 'usage: node bench/dist/kill-soak.js'],
    ['node bench/dist/scale.js --help', 'usage: node bench/dist/scale.js'],
    ['node bench/dist/memory.js --help', 'usage: node bench/dist/memory.js'],
    ['node bench/dist/recall-under-ingest.js --help', 'usage: node bench/dist/recall-under-ingest.js'],
    ['node bench/dist/peers.js --help', 'usage: node bench/dist/peers.js'],
  ])('answers `%s`', async (command, usage) => {
    const result = await sh(command, clone, 60_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(usage);
    expect(result.stdout).toContain('--');
  });

  it.each([
    ['npx engram stats --frobnicate', 'engram:'],
    ['npx engram-operator --frobnicate', 'engram-operator:'],
    ['npx kubectl-engram status x --frobnicate', 'kubectl engram:'],
    ['node bench/dist/profiles.js --frobnicate', 'node bench/dist/profiles.js:'],
    ['node bench/dist/stress.js --frobnicate', 'node bench/dist/stress.js:'],
  ])('names the unknown flag in `%s` (exit 2, no stack trace)', async (command, prefix) => {
    const result = await sh(command, clone, 60_000);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(prefix);
    expect(result.stderr).toContain("'--frobnicate'");
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
