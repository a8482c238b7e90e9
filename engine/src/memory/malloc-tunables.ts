// How the engine's process should set glibc's allocator. glibc raises its mmap threshold each time a
// large mmapped block is freed (up to 32 MiB), after which HNSW graphs growing by doubling
// (3, 6, 12, 25 MB at 768 dimensions) and spaces moving between workers are carved out of the
// threads' heaps, where freed blocks stay resident. A fixed threshold keeps every larger block in
// its own mapping, returned to the kernel when freed: at 128 KiB `npm run bench:memory` held 12%
// more vectors under the same limit (medians of three runs, 56,921 -> 63,759; docs/benchmarks.md).
// At 4 MiB it held as many (78,188 against 79,169) and durable ingest took 1.12-1.15x as many
// observations a second: below 4 MiB the log's 1 MiB slabs and each batch's vector buffer are
// reused from the heap instead of being fresh mappings, faulted in and unmapped on every use.
// The environment variable must be set before the process starts: the engine image sets it, so do
// `npm start` and the test helper; a process started without it works the same, with more memory
// resident.
export const ENGINE_GLIBC_TUNABLES = 'glibc.malloc.mmap_threshold=4194304';

/** The environment to start an engine process with: `env` plus the tunables, unless it sets its own. */
export function withEngineTunables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return env.GLIBC_TUNABLES ? env : { ...env, GLIBC_TUNABLES: ENGINE_GLIBC_TUNABLES };
}
