import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cgroupMemoryLimit, MemoryGuard } from './memory-guard.js';

const MiB = 1024 * 1024;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A fake /proc/self/cgroup and cgroup file system. */
function fakeCgroup(procLines: string, files: Record<string, string>): { proc: string; root: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cgroup-test-'));
  dirs.push(dir);
  const proc = join(dir, 'proc-cgroup');
  writeFileSync(proc, procLines);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, 'fs', path, '..'), { recursive: true });
    writeFileSync(join(dir, 'fs', path), content);
  }
  return { proc, root: join(dir, 'fs') };
}

describe('cgroup memory limit', () => {
  it.each([
    ['v2 with a limit', '0::/kubepods/pod1\n', { 'kubepods/pod1/memory.max': '536870912\n' }, 512 * MiB],
    ['v2 unlimited', '0::/\n', { 'memory.max': 'max\n' }, null],
    ['v1 with a limit', '4:memory:/docker/abc\n1:cpu:/\n', { 'memory/docker/abc/memory.limit_in_bytes': '268435456\n' }, 256 * MiB],
    ['v1 unlimited', '4:memory:/\n', { 'memory/memory.limit_in_bytes': '9223372036854771712\n' }, null],
    ['no cgroup files', '0::/gone\n', {}, null],
  ])('reads %s', (_name, proc, files, expected) => {
    const fake = fakeCgroup(proc, files);
    expect(cgroupMemoryLimit(fake.proc, fake.root)).toBe(expected);
  });
});

describe('memory guard', () => {
  const guard = (limit: number | null, resident: number, queued: number, settings = { limitBytes: 0, highWatermark: 0.9 }) =>
    new MemoryGuard({ settings: () => settings, queuedBytes: () => queued, readLimit: () => limit, readResident: () => resident }).check();

  it('admits below the watermark and refuses above it, counting queued memory', () => {
    expect(guard(100 * MiB, 80 * MiB, 5 * MiB).refusal).toBeNull();
    const over = guard(100 * MiB, 80 * MiB, 15 * MiB);
    expect(over.refusal).toMatch(/80 MiB resident \+ 15 MiB queued is over 90% of its 100 MiB limit/);
  });

  it('never refuses without a limit', () => {
    expect(guard(null, 10_000 * MiB, 1000 * MiB).refusal).toBeNull();
  });

  it('prefers a configured limit over the cgroup one', () => {
    expect(guard(1000 * MiB, 80 * MiB, 0, { limitBytes: 50 * MiB, highWatermark: 0.9 }).limitBytes).toBe(50 * MiB);
  });

  it('returns free heap pages before refusing, and refuses only for memory still in use', () => {
    let resident = 95 * MiB;
    const trims: number[] = [];
    let now = 0;
    const memory = new MemoryGuard({
      settings: () => ({ limitBytes: 100 * MiB, highWatermark: 0.9 }), queuedBytes: () => 0, readResident: () => resident,
      trimHeap: () => { trims.push(now); resident -= 20 * MiB; }, now: () => now,
    });
    expect(memory.check().refusal).toBeNull(); // 95 MiB, trimmed to 75: under 90
    expect(memory.returnedBytes).toBe(20 * MiB);
    resident = 95 * MiB;
    now = 500;
    expect(memory.check().refusal).toMatch(/95 MiB resident/); // a trim ran 0.5 s ago: none now
    now = 1500;
    expect(memory.check().refusal).toBeNull();
    expect(trims).toEqual([0, 1500]);
    resident = 50 * MiB;
    now = 5000;
    memory.check();
    expect(trims).toHaveLength(2); // under the watermark: no trim
  });
});
