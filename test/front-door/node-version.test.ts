// package.json's `engines` admits only Node versions that have every API the code calls: an older
// Node would install and then fail at the first log write (zlib.crc32 arrived in 20.15 and 22.2).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../operator/operator-harness.js';

/** APIs with a newer minimum than Node 20.0, the modules that use them, and the versions that have them. */
const NEWER_APIS: Array<{ api: string; file: string; used: RegExp; since: { 20: [number, number]; 22: [number, number] } }> = [
  { api: 'zlib.crc32', file: 'engine/src/wal/wal-record.ts', used: /import \{ crc32 \} from 'node:zlib'/, since: { 20: [20, 15], 22: [22, 2] } },
];

/** The lowest version the `>=A.B <21 || >=C.D` range admits on each major line. */
function minimums(range: string): Map<number, [number, number]> {
  const out = new Map<number, [number, number]>();
  for (const m of range.matchAll(/>=(\d+)\.(\d+)/g)) out.set(Number(m[1]), [Number(m[1]), Number(m[2])]);
  return out;
}

describe('the Node versions package.json admits', () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
  const admitted = minimums(pkg.engines.node);

  it.each(NEWER_APIS)('all have $api', ({ file, used, since }) => {
    expect(readFileSync(join(REPO_ROOT, file), 'utf8')).toMatch(used); // still used: the entry is not stale
    for (const [major, [minMajor, minMinor]] of Object.entries(since).map(([k, v]) => [Number(k), v] as const)) {
      const floor = admitted.get(major);
      expect(floor, `Node ${major}`).toBeDefined();
      expect(floor![1], `Node ${major}.x floor`).toBeGreaterThanOrEqual(major === minMajor ? minMinor : 0);
    }
  });

  it('is enforced at install time (engine-strict), so npm ci refuses an older Node', () => {
    expect(readFileSync(join(REPO_ROOT, '.npmrc'), 'utf8')).toMatch(/^engine-strict=true$/m);
  });

  it('includes the Node this runs on', () => {
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
    const floor = admitted.get(major) ?? [...admitted.values()].filter(([m]) => m <= major).at(-1);
    expect(floor).toBeDefined();
    expect(major > floor![0] || minor >= floor![1]).toBe(true);
  });
});
