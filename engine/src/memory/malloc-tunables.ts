// How the engine's process should set glibc's allocator. glibc raises its mmap threshold each time a
// large mmapped block is freed (up to 32 MiB), after which HNSW graphs growing by doubling
// (3, 6, 12, 25 MB at 768 dimensions) and spaces moving between workers are carved out of the
// threads' heaps, where freed blocks stay resident. A fixed threshold keeps every block above
// 128 KiB in its own mapping, returned to the kernel when freed: `npm run bench:memory` held 12%
// more vectors under the same limit (medians of three runs, 56,921 -> 63,759; docs/benchmarks.md).
// The environment variable must be set before the process starts: the engine image sets it, so do
// `npm start` and the test helper; a process started without it works the same, with more memory
// resident.
export const ENGINE_GLIBC_TUNABLES = 'glibc.malloc.mmap_threshold=131072';

/** The environment to start an engine process with: `env` plus the tunables, unless it sets its own. */
export function withEngineTunables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return env.GLIBC_TUNABLES ? env : { ...env, GLIBC_TUNABLES: ENGINE_GLIBC_TUNABLES };
}
