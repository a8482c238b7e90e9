// Which compiled hnswlib this process runs: the x86-64-v3 build (AVX2 and FMA distance kernels,
// compiled at install by scripts/build-simd-addon.mjs) when the CPU has those instructions and the
// build is there, else npm's portable build of hnswlib-node. Chosen once per process (the main
// thread and every worker choose alike) by the CPU's flags, never by where the install ran: an
// image built on a new machine must not die with SIGILL on an old one. ENGRAM_HNSW_BUILD=portable
// (or x86-64-v3) forces a choice, for benchmarks that compare the two.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import portable from 'hnswlib-node';

export type HnswlibModule = typeof portable;
export type HnswBuild = 'x86-64-v3' | 'portable';

/** The instructions the x86-64-v3 build may use that older x86-64 CPUs lack. */
const V3_FLAGS = ['avx', 'avx2', 'fma', 'bmi1', 'bmi2', 'f16c', 'movbe'];

const V3_ADDON = fileURLToPath(new URL('../../native/x86-64-v3/addon.node', import.meta.url));

export interface BuildChoice {
  build: HnswBuild;
  /** Why this build (for the start-up log line). */
  reason: string;
  /** Why ENGRAM_HNSW_BUILD cannot be honoured (the engine refuses to start; portable meanwhile). */
  problem?: string;
}

/** The build a process with these CPU flags should run (pure: the flags and what is installed). */
export function chooseBuild(arch: string, cpuFlags: ReadonlySet<string>, v3Installed: boolean, forced?: string): BuildChoice {
  if (forced !== undefined && forced !== '') {
    const refuse = (problem: string): BuildChoice => ({ build: 'portable', reason: 'ENGRAM_HNSW_BUILD cannot be honoured', problem });
    if (forced !== 'portable' && forced !== 'x86-64-v3') return refuse(`ENGRAM_HNSW_BUILD must be 'portable' or 'x86-64-v3', got '${forced}'`);
    if (forced === 'x86-64-v3') {
      const missing = V3_FLAGS.filter((f) => !cpuFlags.has(f));
      if (arch !== 'x64' || missing.length > 0) return refuse(`ENGRAM_HNSW_BUILD=x86-64-v3, but this CPU lacks ${arch !== 'x64' ? `x86-64 (it is ${arch})` : missing.join(', ')}`);
      if (!v3Installed) return refuse(`ENGRAM_HNSW_BUILD=x86-64-v3, but ${V3_ADDON} was not built (npm install builds it)`);
    }
    return { build: forced, reason: 'ENGRAM_HNSW_BUILD' };
  }
  if (arch !== 'x64') return { build: 'portable', reason: `not x86-64 (${arch})` };
  const missing = V3_FLAGS.filter((f) => !cpuFlags.has(f));
  if (missing.length > 0) return { build: 'portable', reason: `the CPU lacks ${missing.join(', ')}` };
  if (!v3Installed) return { build: 'portable', reason: 'the x86-64-v3 addon was not built at install' };
  return { build: 'x86-64-v3', reason: 'the CPU has AVX2 and FMA' };
}

/** The CPU's feature flags as Linux lists them (empty elsewhere: the portable build is chosen). */
function cpuFlags(): Set<string> {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    return new Set(line ? line.slice(line.indexOf(':') + 1).trim().split(/\s+/) : []);
  } catch {
    return new Set();
  }
}

export const hnswBuild: BuildChoice = chooseBuild(process.arch, cpuFlags(), existsSync(V3_ADDON), process.env.ENGRAM_HNSW_BUILD);

/** hnswlib as this process runs it. */
export const hnswlib: HnswlibModule = hnswBuild.build === 'x86-64-v3' ? (createRequire(import.meta.url)(V3_ADDON) as HnswlibModule) : portable;
