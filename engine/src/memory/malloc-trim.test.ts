import { describe, expect, it } from 'vitest';
import { loadHeapTrimmer } from './malloc-trim.js';

describe('loadHeapTrimmer', () => {
  it('is null where the addon was not built', () => {
    expect(loadHeapTrimmer('/nonexistent/malloc-trim.node')).toBeNull();
  });

  // The install builds it on Linux with glibc (this machine, CI and the engine image); what it
  // gives back is tested on a real engine (test/engine/memory-limit.test.ts).
  it.runIf(process.platform === 'linux')('is built by the install on Linux and trims', () => {
    const trimmer = loadHeapTrimmer();
    expect(trimmer).not.toBeNull();
    expect(typeof trimmer!.trim()).toBe('boolean');
  });
});
