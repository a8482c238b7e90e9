// glibc keeps freed memory in its heaps and returns only a heap's top to the kernel. The main
// thread's heap is fragmented by gRPC's short-lived buffers: measured after 40,000 observations,
// it held 107 MiB resident of which malloc_trim(0) gave 91 MiB back. The engine's install compiles
// a one-function addon for it (native-src/malloc-trim, scripts/build-malloc-trim.mjs); where it is
// not built (no glibc, no compiler) the engine runs the same with more memory resident.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ADDON = fileURLToPath(new URL('../../native/malloc-trim.node', import.meta.url));

export interface HeapTrimmer {
  /** malloc_trim(0): true when some memory was given back. */
  trim(): boolean;
}

/** The addon, or null where it was not built. */
export function loadHeapTrimmer(path = ADDON): HeapTrimmer | null {
  if (!existsSync(path)) return null;
  return createRequire(import.meta.url)(path) as HeapTrimmer;
}
