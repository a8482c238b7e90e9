// `npm run bench -- --quick`, a small `npm run bench:ingest-floor` and `bench:peers -- --quick` end to end, so the benchmarks
// never rot: they start real engines and servers, stream, recall and print their tables. Their
// figures are not judged here (no timing assertions on a shared machine); what is checked is that
// every stage ran and accounted for every observation.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { PeerFigures } from '../../bench/dist/peer-run.js';
import { ClusteredVectors } from '../../engine/dist/synthetic/clustered-vectors.js';
import { REPO_ROOT } from '../operator/operator-harness.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));

interface ProfileRow {
  profile: string; accepted: number; indexed: number; recalls: number; rawSingle: number; vsRawTimesWorkers: number; recallP99: number;
  workerShare: number; indexedPerWorkerSecondVsRaw: number;
}
interface TargetRow { target: string; measured: string; met: string }

describe('npm run bench -- --quick', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every stage on two profiles and accounts for every observation', async () => {
    const out = join(dir, 'profiles.json');
    const { stdout } = await run('npm', ['run', '--silent', 'bench', '--', '--quick', '--out', out], { cwd: REPO_ROOT, timeout: 170_000, maxBuffer: 16 * 1024 * 1024 });
    expect(stdout).toMatch(/^\| balanced \| 4 \|/m);
    expect(stdout).toMatch(/^\| memory-constrained \| 2 \|/m);
    expect(stdout).toContain('accepted-ingest burst');
    const results = JSON.parse(readFileSync(out, 'utf8')) as { rows: ProfileRow[]; burst: { accepted: number; rate: number }; targets: TargetRow[] };
    expect(results.rows.map((r) => r.profile)).toEqual(['balanced', 'memory-constrained']);
    for (const row of results.rows) {
      expect(row.accepted).toBe(2000);
      expect(row.indexed).toBe(2000);
      expect(row.recalls).toBeGreaterThan(0);
      expect(row.rawSingle).toBeGreaterThan(0);
      // the workers' CPU was read from /proc: they indexed 2,000 vectors, so they ran
      expect(row.workerShare).toBeGreaterThan(0);
      expect(row.indexedPerWorkerSecondVsRaw).toBeGreaterThan(0);
    }
    expect(stdout).toContain('Where the cores went at saturation');
    expect(results.burst.accepted).toBe(5000);
    // the targets are judged on this run's own figures
    expect(stdout).toContain('Against the targets (this run):');
    const judged = (start: string) => results.targets.find((t) => t.target.startsWith(start))!;
    const overhead = results.rows.map((r) => r.vsRawTimesWorkers >= 0.9);
    expect(judged('engine overhead').met).toBe(overhead.every(Boolean) ? 'yes' : overhead.some(Boolean) ? 'partly' : 'no');
    expect(judged('engine overhead').measured).toContain(`balanced ${results.rows[0]!.vsRawTimesWorkers.toFixed(2)}`);
    expect(judged('accepted ingest >= 60,000').met).toBe(results.burst.rate >= 60_000 ? 'yes' : 'no');
    expect(judged('vectors held under 512 MiB').met).toBe('other bench');
  }, 180_000);

  it('measures the ingest floor: every server takes the whole burst', async () => {
    const out = join(dir, 'ingest-floor.json');
    const { stdout } = await run('node', ['bench/dist/ingest-floor.js', '--observations', '2000', '--streams', '2', '--batch', '250', '--rounds', '1', '--out', out], { cwd: REPO_ROOT, timeout: 110_000 });
    expect(stdout).toContain('| engine, log synced per batch |');
    expect(stdout).toContain("| grpc-js + decoding + the engine's log, synced per batch |");
    const results = JSON.parse(readFileSync(out, 'utf8')) as { targets: Record<string, Array<{ observations: number; rejected: number }>> };
    expect(Object.keys(results.targets)).toHaveLength(5);
    // (CPU figures are not checked: a burst this small can take less than one clock tick of /proc)
    for (const [target, rows] of Object.entries(results.targets)) expect(rows.map((r) => [r.observations, r.rejected]), target).toEqual([[2000, 0]]);
  }, 120_000);

  it('compares shard counts on one space, and splits a skewed load\'s hot space', async () => {
    const out = join(dir, 'shards.json');
    const { stdout } = await run('node', ['bench/dist/shards.js', '--observations', '3000', '--rounds', '1', '--queries', '20', '--dimension', '64',
      '--skewed', '12000', '--skewed-rate', '4000', '--out', out], { cwd: REPO_ROOT, timeout: 150_000 });
    expect(stdout).toMatch(/^\| 2 \| \d+ \| [\d.]+x \|/m);
    const results = JSON.parse(readFileSync(out, 'utf8')) as { rows: Array<{ shards: number; indexed: number[]; recallAt10: number }>; skewed: { before: unknown } };
    expect(results.rows.map((r) => r.shards)).toEqual([1, 2, 4]);
    for (const row of results.rows) {
      expect(row.indexed).toEqual([3000]);
      expect(row.recallAt10).toBeGreaterThan(0.5);
    }
    expect(results.skewed.before).not.toBeNull();
  }, 160_000);

  it('compares usearch f16 with hnswlib: the libraries alone, the engines, a hot space, and vectors held under a limit', async () => {
    const out = join(dir, 'backends.json');
    const { stdout } = await run('npm', ['run', '--silent', 'bench', '--', '--backend', 'usearch', '--quantization', 'f16', '--quick', '--out', out], { cwd: REPO_ROOT, timeout: 290_000, maxBuffer: 16 * 1024 * 1024 });
    expect(stdout).toMatch(/^\| usearch f16 \| \d+ \| [\d.]+ \/ [\d.]+ \| [\d.]+ \| -?\d+ \|$/m);
    const results = JSON.parse(readFileSync(out, 'utf8')) as {
      raw: Array<{ index: string; recallAt10: number }>; rounds: Array<Record<string, { recallAt10: number }>>;
      hot: Record<string, number[]>; held: Record<string, { held: number }>;
    };
    expect(results.raw.map((r) => r.index)).toEqual(['hnswlib-node f32', 'usearch f32', 'usearch f16', 'usearch i8']);
    for (const kind of ['hnswlib f32', 'usearch f16']) expect(results.rounds[0]![kind]!.recallAt10).toBeGreaterThan(0.5);
    expect(Object.values(results.hot).every((rates) => rates.length === 1 && rates[0]! > 0)).toBe(true);
    // half-precision vectors: more of them under the same limit
    expect(results.held['usearch f16']!.held).toBeGreaterThan(results.held['hnswlib f32']!.held);
  }, 300_000);

  it('compares Engram with LanceDB and hnswlib-node on the same data: every figure measured, every write found', async () => {
    const out = join(dir, 'peers.json');
    const { stdout } = await run('npm', ['run', '--silent', 'bench:peers', '--', '--quick', '--out', out], { cwd: REPO_ROOT, timeout: 230_000, maxBuffer: 16 * 1024 * 1024 });
    expect(stdout).toMatch(/^\| lancedb \| 2,000 \|/m);
    const results = JSON.parse(readFileSync(out, 'utf8')) as { results: PeerFigures[] };
    expect(results.results.map((r) => r.system)).toEqual(['engram', 'lancedb', 'hnswlib']);
    for (const r of results.results) {
      const size = r.sizes[0]!;
      expect(size.vectors, r.system).toBe(2000);
      // approximate search over clustered data: far above chance (10 of 2,000), whatever the store
      expect(size.idle.recallAt10, r.system).toBeGreaterThan(0.8);
      expect(size.underIngest.written, r.system).toBeGreaterThan(0);
      expect(size.residentBytes, r.system).toBeGreaterThan(0);
      expect(size.diskBytes, r.system).toBeGreaterThan(0);
      for (const figure of [r.single.rate, r.batched.rate, r.freshness.p50Ms, size.fillRate]) expect(figure, r.system).toBeGreaterThan(0);
    }
  }, 240_000);

  it('takes its vectors from an embeddings file, and refuses one too small for the run, saying what it needs', async () => {
    // the format bench/scripts/embed-corpus.py writes: float32 rows, and their description beside them
    // (what is written beside the searches comes last, from other clusters: far from every query)
    const embeddings = (rows: number, name: string) => {
      const path = join(dir, `${name}.f32`);
      const vectors = [...new ClusteredVectors({ dimension: 32, seed: 3 }).take(2650), ...new ClusteredVectors({ dimension: 32, seed: 4 }).take(rows - 2650)];
      writeFileSync(path, Buffer.concat(vectors.map((v) => Buffer.from(v.buffer))));
      writeFileSync(join(dir, `${name}.json`), JSON.stringify({ dimension: 32, count: rows, model: 'clustered (test)', sentences: rows, sources: [] }));
      return path;
    };
    const out = join(dir, 'peers-file.json');
    // --quick needs 2,000 base, 50 queries, 100 single, 500 batched, and 510 beside the searches and for freshness
    const { stdout } = await run('npm', ['run', '--silent', 'bench:peers', '--', '--quick', '--systems', 'hnswlib', '--vectors', embeddings(3160, 'enough'), '--out', out],
      { cwd: REPO_ROOT, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
    expect(stdout).toContain('2000 vectors of 32 dimensions (sentence embeddings by clustered (test)');
    const { dimension, results } = JSON.parse(readFileSync(out, 'utf8')) as { dimension: number; results: PeerFigures[] };
    expect(dimension).toBe(32);
    expect(results[0]!.sizes[0]!.idle.recallAt10).toBeGreaterThan(0.8);
    const refused = await run('npm', ['run', '--silent', 'bench:peers', '--', '--quick', '--systems', 'hnswlib', '--vectors', embeddings(3159, 'short')], { cwd: REPO_ROOT })
      .then(() => null, (e: { stderr: string }) => e);
    expect(refused?.stderr).toContain('short.f32 holds 3159 vectors; this run needs 3160 (base 2000, queries 50, single 100, batched 500, other 510)');
  }, 90_000);

  it('names the profiles it knows when given one it does not', async () => {
    const failed = await run('node', ['bench/dist/profiles.js', '--profiles', 'balanced,fastest'], { cwd: REPO_ROOT }).then(() => null, (e: { code: number; stderr: string }) => e);
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toContain('unknown profile fastest: the profiles are low-latency, high-throughput, balanced, memory-constrained, multi-tenant');
  });
});
