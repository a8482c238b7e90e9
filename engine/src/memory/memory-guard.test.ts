import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cgroupMemory, cgroupMemoryLimit, MemoryGuard, type MemoryGuardOptions } from './memory-guard.js';

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

  it.each([
    ['v2', '0::/kubepods/pod1\n', { 'kubepods/pod1/memory.max': '536870912\n', 'kubepods/pod1/memory.current': '104857600\n' }],
    ['v1', '4:memory:/docker/abc\n', { 'memory/docker/abc/memory.limit_in_bytes': '536870912\n', 'memory/docker/abc/memory.usage_in_bytes': '104857600\n' }],
  ])('reads what a %s cgroup with a limit is charged, and no charge for one without', (_name, proc, files) => {
    const fake = fakeCgroup(proc, files);
    expect(cgroupMemory(fake.proc, fake.root)).toEqual({ limitBytes: 512 * MiB, chargedBytes: 100 * MiB });
    const root = fakeCgroup('4:memory:/\n', { 'memory/memory.limit_in_bytes': '9223372036854771712\n', 'memory/memory.usage_in_bytes': '999999999999\n' });
    expect(cgroupMemory(root.proc, root.root)).toBeNull();
  });
});

/** A guard over a 100 MiB limit (watermark 0.9) with its resident set and clock in the test's hands. */
function clockedGuard(resident: () => number, now: () => number, release: Pick<MemoryGuardOptions, 'trimHeap' | 'collectGarbage'>): MemoryGuard {
  return new MemoryGuard({
    settings: () => ({ limitBytes: 100 * MiB, highWatermark: 0.9 }), queuedBytes: () => 0, readResident: resident, readCharge: () => null, now, ...release,
  });
}

describe('memory guard', () => {
  const guard = (limit: number | null, resident: number, queued: number, settings = { limitBytes: 0, highWatermark: 0.9 }, charged: number | null = null) =>
    new MemoryGuard({ settings: () => settings, queuedBytes: () => queued, readLimit: () => limit, readResident: () => resident, readCharge: () => charged }).check();

  it('admits below the watermark and refuses above it, counting queued memory', () => {
    expect(guard(100 * MiB, 80 * MiB, 5 * MiB).refusal).toBeNull();
    const over = guard(100 * MiB, 80 * MiB, 15 * MiB);
    expect(over.refusal).toMatch(/80 MiB in use \+ 15 MiB queued is over 90% of its 100 MiB limit/);
  });

  it('counts what the cgroup is charged when that is more than the resident set (page cache the kernel keeps)', () => {
    expect(guard(100 * MiB, 60 * MiB, 5 * MiB, undefined, 70 * MiB).refusal).toBeNull();
    expect(guard(100 * MiB, 60 * MiB, 5 * MiB, undefined, 88 * MiB).refusal).toMatch(/^engine memory 88 MiB in use \+ 5 MiB queued is over 90%/);
    expect(guard(100 * MiB, 95 * MiB, 0, undefined, 50 * MiB).inUseBytes).toBe(95 * MiB);
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
    const memory = clockedGuard(() => resident, () => now, { trimHeap: () => { trims.push(now); resident -= 20 * MiB; } });
    expect(memory.check().refusal).toBeNull(); // 95 MiB, trimmed to 75: under 90
    expect(memory.returnedBytes).toBe(20 * MiB);
    resident = 95 * MiB;
    now = 500;
    expect(memory.check().refusal).toMatch(/95 MiB in use/); // a trim ran 0.5 s ago: none now
    now = 1500;
    expect(memory.check().refusal).toBeNull();
    expect(trims).toEqual([0, 1500]);
    resident = 50 * MiB;
    now = 5000;
    memory.check();
    expect(trims).toHaveLength(2); // under the watermark: no trim
  });

  it('collects garbage before it trims, and once refusing takes observations again only 5% under the watermark', () => {
    let resident = 95 * MiB;
    const calls: string[] = [];
    let now = 0;
    const memory = clockedGuard(() => resident, () => now, { collectGarbage: () => calls.push('gc'), trimHeap: () => calls.push('trim') });
    expect(memory.check().refusal).toMatch(/95 MiB in use \+ 0 MiB queued is over 90% of its 100 MiB limit/);
    expect(calls).toEqual(['gc', 'trim']);
    resident = 87 * MiB; // under 90, over 85
    now = 2000;
    expect(memory.check().refusal).toMatch(/87 MiB in use \+ 0 MiB queued is over 85% of its 100 MiB limit/);
    resident = 84 * MiB;
    now = 4000;
    expect(memory.check().refusal).toBeNull();
    resident = 88 * MiB; // accepting again: the watermark is 90 once more
    expect(memory.check().refusal).toBeNull();
  });
});
