// Compiles native-src/memory-release (two C functions: glibc's malloc_trim and posix_fadvise's
// DONTNEED) into native/memory-release.node. Runs at install (the engine's postinstall) and in the
// engine image. On a system without glibc, or when the compile fails, nothing is built and the
// engine runs without giving free heap pages and written files' page cache back to the kernel
// (src/memory/memory-release.ts): more memory in use, the same behaviour otherwise. Skips when the
// addon is up to date with its source.
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gypRebuild } from './node-gyp.mjs';

const engineDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(engineDir, 'native-src', 'memory-release');
const target = join(engineDir, 'native', 'memory-release.node');
const stampFile = join(engineDir, 'native', 'memory-release.BUILD');
mkdirSync(join(engineDir, 'native'), { recursive: true });

if (process.platform !== 'linux' || process.report?.getReport().header.glibcVersionRuntime === undefined) {
  console.log('memory-release addon: not built (needs Linux with glibc); the engine runs without it');
  process.exit(0);
}
const digest = createHash('sha256');
for (const file of ['binding.gyp', 'memory_release.c']) digest.update(readFileSync(join(source, file)));
const stamp = `source ${digest.digest('hex').slice(0, 16)}, N-API ${process.versions.napi}`;
if (existsSync(target) && existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === stamp) {
  console.log(`memory-release addon: up to date (${stamp})`);
  process.exit(0);
}

const scratch = join(engineDir, 'native', '.build-memory-release');
rmSync(scratch, { recursive: true, force: true });
cpSync(source, scratch, { recursive: true });
const failure = gypRebuild(scratch);
if (failure) {
  console.error(failure);
  console.error('memory-release addon: build failed; the engine runs without giving heap pages and page cache back to the kernel');
} else {
  copyFileSync(join(scratch, 'build', 'Release', 'memory_release.node'), target);
  writeFileSync(stampFile, `${stamp}\n`);
  console.log(`memory-release addon: built (${stamp})`);
}
rmSync(scratch, { recursive: true, force: true });
