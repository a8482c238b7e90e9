// The `engram` CLI as the README uses it: observe from a JSON-lines file and from the generator,
// recall, stats, config get/apply; and clear errors with exit codes for bad flags and input.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGRAM_CLI, startEngine, type EngineProcess } from '../../engine/dist/testing/engine-process.js';
import { clusteredObservations } from '../helpers/vectors.js';

const run = promisify(execFile);
const DIM = 16;

async function engram(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [ENGRAM_CLI, ...args]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const error = e as { code: number; stdout: string; stderr: string };
    return { code: error.code, stdout: error.stdout, stderr: error.stderr };
  }
}

describe('the engram CLI', () => {
  let engine: EngineProcess;
  let address: string[];
  const dir = mkdtempSync(join(tmpdir(), 'engram-cli-'));
  const data = clusteredObservations('notes', 50, DIM);

  beforeAll(async () => {
    engine = await startEngine({ 'hnsw.dimension': DIM });
    address = ['--address', engine.address];
    writeFileSync(join(dir, 'notes.jsonl'), data.map((o) => JSON.stringify({ ...o, embedding: Array.from(o.embedding) })).join('\n'));
    writeFileSync(join(dir, 'query.json'), JSON.stringify(Array.from(data[3]!.embedding)));
  });
  afterAll(async () => {
    await engine.stop();
  });

  it('streams a JSON-lines file and reports every observation indexed', async () => {
    const out = await engram(['observe', ...address, '--space', 'notes', '--file', join(dir, 'notes.jsonl')]);
    expect(out.code).toBe(0);
    expect(out.stderr).toMatch(/sent 50\s+accepted 50\s+indexed 50/);
  });

  it('streams generated vectors with a progress line', async () => {
    const out = await engram(['observe', ...address, '--space', 'generated', '--generate', '300']);
    expect(out.code).toBe(0);
    expect(out.stderr).toMatch(/sent 300\/300\s+accepted 300\s+indexed 300 100%/);
  });

  it('recalls by a vector file and prints the hit with its content', async () => {
    const out = await engram(['recall', ...address, '--space', 'notes', '--vector', `@${join(dir, 'query.json')}`, '--k', '3']);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^3 of 50 vectors in 'notes'/);
    expect(out.stdout).toMatch(/ {2}1 {2}1\.0000 {2}notes-3 {2}obs 3/);
    const json = JSON.parse((await engram(['recall', ...address, '--space', 'notes', '--random', '--k', '2', '--json'])).stdout);
    expect(json.hits).toHaveLength(2);
  });

  it('prints stats and applies config live', async () => {
    const stats = JSON.parse((await engram(['stats', ...address])).stdout);
    expect(stats.spaces.map((s: { memorySpace: string }) => s.memorySpace).sort()).toEqual(['generated', 'notes']);
    const applied = JSON.parse((await engram(['config', 'apply', '{"workers": 2}', ...address])).stdout);
    expect(applied).toMatchObject({ config: { workers: 2 }, generation: 2 });
    const got = JSON.parse((await engram(['config', 'get', ...address])).stdout);
    expect(got.hash).toBe(applied.hash);
  });

  it.each([
    [['frobnicate'], 2, "unknown command 'frobnicate'"],
    [['observe', '--generate', '5'], 2, '--space is required'],
    [['recall', '--space', 'notes', '--k', 'ten'], 2, "--k must be a non-negative integer, got 'ten'"],
    [['serve', '--insecure', '--set', 'workers=0', '--port', '0', '--http-port', '0'], 1, "'workers' must be in [1, 32], got 0"],
    [['serve', '--insecure', '--profile', 'turbo', '--port', '0', '--http-port', '0'], 1, "'profile' must be one of low-latency"],
    [['serve', '--port', '0', '--http-port', '0'], 2, 'serve needs --keys-file KEYS.yaml (create keys with `engram keys create`), or --insecure'],
    [['serve', '--insecure', '--keys-file', 'k.yaml'], 2, '--keys-file and --insecure exclude each other'],
    [['serve', '--insecure', '--tls-cert', 'c.pem'], 2, '--tls-cert and --tls-key go together'],
    [['serve', '--keys-file', '/nonexistent/keys.yaml', '--port', '0', '--http-port', '0', '--ephemeral'], 1, 'INVALID_CREDENTIALS_FILE: /nonexistent/keys.yaml: cannot be read (ENOENT)'],
  ])('refuses %j with exit code %i and a clear message', async (args, code, message) => {
    const out = await engram(args);
    expect(out.code).toBe(code);
    expect(out.stderr).toContain(message);
  });

  it('names every problem of a config file, not only the first', async () => {
    writeFileSync(join(dir, 'two-problems.yaml'), 'profile: turbo\nworkers: 0\nqueue: { capacity: 5 }\nturbo: true\n');
    const out = await engram(['serve', '--insecure', '--config', join(dir, 'two-problems.yaml'), '--port', '0', '--http-port', '0', '--ephemeral']);
    expect(out.code).toBe(1);
    for (const problem of ["'profile' must be one of", "'workers' must be in [1, 32], got 0", "'queue.capacity' must be in [10, 2000000], got 5", "unknown key 'turbo'"]) {
      expect(out.stderr).toContain(problem);
    }
  });

  it('names the problem in a bad JSON-lines file', async () => {
    writeFileSync(join(dir, 'bad.jsonl'), '{"id": "a", "embedding": [1]}\n{not json}\n');
    const out = await engram(['observe', ...address, '--space', 'bad-file', '--file', join(dir, 'bad.jsonl')]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('bad.jsonl:2: not JSON');
  });

  it('reports a refused config apply with the engine\'s reason', async () => {
    const out = await engram(['config', 'apply', '{"batch": {"min": 9, "max": 3}}', ...address]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("'batch.min' (9) must not exceed 'batch.max' (3)");
  });
});
