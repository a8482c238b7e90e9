import { describe, expect, it } from 'vitest';
import { ENGINE_GLIBC_TUNABLES, withEngineTunables } from './malloc-tunables.js';

describe('withEngineTunables', () => {
  it('adds the fixed mmap threshold to an environment without tunables', () => {
    expect(withEngineTunables({ PATH: '/bin' })).toEqual({ PATH: '/bin', GLIBC_TUNABLES: ENGINE_GLIBC_TUNABLES });
  });
  it('leaves tunables the caller set alone', () => {
    expect(withEngineTunables({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }).GLIBC_TUNABLES).toBe('glibc.malloc.arena_max=2');
  });
});
