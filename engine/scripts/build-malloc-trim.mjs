// Compiles native-src/malloc-trim (one C function over glibc's malloc_trim) into
// native/malloc-trim.node. Runs at install (the engine's postinstall) and in the engine image. On
// a system without glibc, or when the compile fails, nothing is built and the engine runs without
// returning free heap pages to the kernel (src/memory/malloc-trim.ts): more memory resident, the
// same behaviour otherwise. Skips when the addon is up to date with its source.
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gypRebuild } from './node-gyp.mjs';

const engineDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(engineDir, 'native-src', 'malloc-trim');
const target = join(engineDir, 'native', 'malloc-trim.node');
const stampFile = join(engineDir, 'native', 'malloc-trim.BUILD');
mkdirSync(join(engineDir, 'native'), { recursive: true });

if (process.platform !== 'linux' || process.report?.getReport().header.glibcVersionRuntime === undefined) {
  console.log('malloc-trim addon: not built (needs Linux with glibc); the engine runs without it');
  process.exit(0);
}
const digest = createHash('sha256');
for (const file of ['binding.gyp', 'malloc_trim.c']) digest.update(readFileSync(join(source, file)));
const stamp = `source ${digest.digest('hex').slice(0, 16)}, N-API ${process.versions.napi}`;
if (existsSync(target) && existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === stamp) {
  console.log(`malloc-trim addon: up to date (${stamp})`);
  process.exit(0);
}

const scratch = join(engineDir, 'native', '.build-malloc-trim');
rmSync(scratch, { recursive: true, force: true });
cpSync(source, scratch, { recursive: true });
const failure = gypRebuild(scratch);
if (failure) {
  console.error(failure);
  console.error('malloc-trim addon: build failed; the engine runs without returning free heap pages to the kernel');
} else {
  copyFileSync(join(scratch, 'build', 'Release', 'malloc_trim.node'), target);
  writeFileSync(stampFile, `${stamp}\n`);
  console.log(`malloc-trim addon: built (${stamp})`);
}
rmSync(scratch, { recursive: true, force: true });
