import { execFileSync } from 'node:child_process';
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMemoryRelease } from './memory-release.js';

/** Bytes of `path` in the page cache, by util-linux's fincore. */
const cachedBytes = (path: string): number => Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' }).trim());

describe('loadMemoryRelease', () => {
  it('is null where the addon was not built', () => {
    expect(loadMemoryRelease('/nonexistent/memory-release.node')).toBeNull();
  });

  // The install builds it on Linux with glibc (this machine, CI and the engine image); what a heap
  // trim gives back is tested on a real engine (test/engine/memory-limit.test.ts).
  it.runIf(process.platform === 'linux')('is built by the install on Linux and trims', () => {
    const release = loadMemoryRelease();
    expect(release).not.toBeNull();
    expect(typeof release!.trimHeap()).toBe('boolean');
  });

  it.runIf(process.platform === 'linux')('drops a synced file\'s pages from the page cache, only in the range asked', () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-pages-'));
    const path = join(dir, 'segment');
    const fd = openSync(path, 'w');
    try {
      const mib = Buffer.alloc(1024 * 1024, 7);
      for (let i = 0; i < 8; i++) writeSync(fd, mib);
      fsyncSync(fd);
      expect(cachedBytes(path)).toBe(8 * 1024 * 1024);
      const release = loadMemoryRelease()!;
      expect(release.dropFilePages(fd, 0, 4 * 1024 * 1024)).toBe(0);
      expect(cachedBytes(path)).toBe(4 * 1024 * 1024);
      expect(release.dropFilePages(fd, 4 * 1024 * 1024, 0)).toBe(0);
      expect(cachedBytes(path)).toBe(0);
      expect(() => release.dropFilePages(fd, 10, 5)).toThrow(/a file descriptor and a byte range/);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
