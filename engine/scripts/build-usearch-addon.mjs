// Compiles native-src/usearch-graph (the engine's binding of usearch's C++ index, see the comment
// at the top of usearch_graph.cpp) against the installed usearch package's headers and NumKong
// kernels into native/usearch-graph.node. Runs at install (the engine's postinstall) and in the
// engine image. When the compile fails, nothing is built: the engine then refuses a config that
// asks for the usearch backend (src/index/usearch-graph.ts) and runs hnswlib as before. Skips when
// the addon is up to date with its source and the usearch version.
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gypRebuild } from './node-gyp.mjs';

const engineDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(engineDir, 'native-src', 'usearch-graph');
const target = join(engineDir, 'native', 'usearch-graph.node');
const stampFile = join(engineDir, 'native', 'usearch-graph.BUILD');
mkdirSync(join(engineDir, 'native'), { recursive: true });

// the package's exports name no package.json: look where node would (the workspace, then the root)
const usearchDir = [join(engineDir, 'node_modules', 'usearch'), join(engineDir, '..', 'node_modules', 'usearch')].find((d) => existsSync(join(d, 'package.json')));
if (!usearchDir) {
  console.log('usearch addon: not built (the usearch package is not installed); the engine runs hnswlib only');
  process.exit(0);
}
const usearchVersion = JSON.parse(readFileSync(join(usearchDir, 'package.json'), 'utf8')).version;
const digest = createHash('sha256');
for (const file of ['binding.gyp', 'usearch_graph.cpp', 'numkong_unused.c']) digest.update(readFileSync(join(source, file)));
const stamp = `source ${digest.digest('hex').slice(0, 16)}, usearch ${usearchVersion}, N-API ${process.versions.napi}`;
if (existsSync(target) && existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === stamp) {
  console.log(`usearch addon: up to date (${stamp})`);
  process.exit(0);
}

const scratch = join(engineDir, 'native', '.build-usearch-graph');
rmSync(scratch, { recursive: true, force: true });
cpSync(source, scratch, { recursive: true });
// gyp wants sources under the build directory: usearch's headers and NumKong's kernels are linked in
for (const dir of ['include', 'numkong']) symlinkSync(join(usearchDir, dir), join(scratch, dir));
const started = Date.now();
const failure = gypRebuild(scratch);
if (failure) {
  console.error(failure);
  console.error('usearch addon: build failed; the engine refuses hnsw.backend usearch and runs hnswlib');
} else {
  // a new file renamed over the old: an engine running the old one keeps its pages (a copy over it
  // would change the code under that process)
  copyFileSync(join(scratch, 'build', 'Release', 'usearch_graph.node'), `${target}.tmp`);
  renameSync(`${target}.tmp`, target);
  writeFileSync(stampFile, `${stamp}\n`);
  console.log(`usearch addon: built in ${((Date.now() - started) / 1000).toFixed(0)} s (${stamp})`);
}
rmSync(scratch, { recursive: true, force: true });
