// Memory the engine gives back to the kernel, where Node has no call for it. The engine's install
// compiles a two-function addon (native-src/memory-release, scripts/build-memory-release.mjs);
// where it is not built (no glibc, no compiler) the engine runs the same with more memory in use.
// - The heap: glibc keeps freed memory and returns only a heap's top. The main thread's heap is
//   fragmented by gRPC's short-lived buffers: measured after 40,000 observations, it held 107 MiB
//   resident of which malloc_trim(0) gave 91 MiB back.
// - Page cache: a container's memory limit counts the cache of the files it wrote. Log segments
//   and snapshots are written once and read only at recovery, yet they filled the stress suite's
//   memory-limited engine with 40-107 MiB of cache, and the kernel (cgroup v1) killed the engine
//   for memory with 47 MiB of it still unreclaimed. Once synced, their pages are dropped.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const ADDON = fileURLToPath(new URL('../../native/memory-release.node', import.meta.url));

export interface MemoryRelease {
  /** malloc_trim(0): true when some memory was given back. */
  trimHeap(): boolean;
  /** posix_fadvise(DONTNEED) over bytes [from, to) of `fd` (to = 0: to the end); 0 or an errno. */
  dropFilePages(fd: number, from: number, to: number): number;
}

let loaded: MemoryRelease | null | undefined;

/** The addon, or null where it was not built (loaded once per thread). */
export function loadMemoryRelease(path = ADDON): MemoryRelease | null {
  if (path !== ADDON) return existsSync(path) ? (createRequire(import.meta.url)(path) as MemoryRelease) : null;
  loaded ??= existsSync(path) ? (createRequire(import.meta.url)(path) as MemoryRelease) : null;
  return loaded;
}

/**
 * Drops the clean cached pages of a file the engine will not read again soon (after its data is
 * synced: dirty pages are not dropped, only queued for writeback). A no-op without the addon.
 */
export function dropFilePages(fd: number, from = 0, to = 0): void {
  loadMemoryRelease()?.dropFilePages(fd, from, to);
}

let gc: (() => void) | undefined;

/**
 * Runs a full garbage collection of this thread now. V8 frees the buffers gRPC received only when
 * it collects, and it counts that memory lazily; the memory guard asks before it refuses. (V8's
 * gc() is exposed at run time: the engine is started without --expose-gc.)
 */
export function collectGarbage(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}
