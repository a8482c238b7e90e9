import { describe, expect, it } from 'vitest';
import { chooseBuild } from './hnswlib-addon.js';

const V3 = new Set(['sse4_2', 'avx', 'avx2', 'fma', 'bmi1', 'bmi2', 'f16c', 'movbe']);
const OLD = new Set(['sse4_2', 'avx']);

describe('chooseBuild: the hnswlib addon a process runs', () => {
  it.each([
    { cpu: 'x64 with AVX2 and FMA, v3 built', arch: 'x64', flags: V3, built: true, build: 'x86-64-v3', reason: 'the CPU has AVX2 and FMA' },
    { cpu: 'x64 with AVX2 and FMA, v3 not built', arch: 'x64', flags: V3, built: false, build: 'portable', reason: 'the x86-64-v3 addon was not built at install' },
    { cpu: 'an older x64 (AVX only), v3 built', arch: 'x64', flags: OLD, built: true, build: 'portable', reason: 'the CPU lacks avx2, fma, bmi1, bmi2, f16c, movbe' },
    { cpu: 'arm64', arch: 'arm64', flags: new Set<string>(), built: false, build: 'portable', reason: 'not x86-64 (arm64)' },
  ])('$cpu: $build', ({ arch, flags, built, build, reason }) => {
    expect(chooseBuild(arch, flags, built)).toEqual({ build, reason });
  });

  it('follows ENGRAM_HNSW_BUILD, and names the problem with a value it cannot honour', () => {
    expect(chooseBuild('x64', V3, true, 'portable')).toEqual({ build: 'portable', reason: 'ENGRAM_HNSW_BUILD' });
    expect(chooseBuild('x64', V3, true, 'x86-64-v3')).toEqual({ build: 'x86-64-v3', reason: 'ENGRAM_HNSW_BUILD' });
    expect(chooseBuild('x64', V3, true, 'avx512').problem).toBe("ENGRAM_HNSW_BUILD must be 'portable' or 'x86-64-v3', got 'avx512'");
    expect(chooseBuild('x64', OLD, true, 'x86-64-v3').problem).toContain('this CPU lacks avx2, fma');
    expect(chooseBuild('x64', V3, false, 'x86-64-v3').problem).toContain('was not built (npm install builds it)');
    // never the SIMD build when it cannot be honoured
    expect(chooseBuild('x64', OLD, true, 'x86-64-v3').build).toBe('portable');
  });
});
