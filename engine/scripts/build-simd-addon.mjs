// Compiles hnswlib-node's addon a second time for x86-64-v3 (AVX2, FMA) into native/x86-64-v3/.
// npm's build of the package is portable (SSE only, as the package's binding.gyp leaves it); the
// engine picks between the two at start by the CPU's flags (src/index/hnswlib-addon.ts), so an
// install or an image made on one machine still runs, portably, on an older one. The package is
// compiled as published, not forked: its binding.gyp and sources are copied to a scratch directory
// and built there with the extra compiler flags. Runs at install (the engine's postinstall) and in
// the engine image; does nothing on other architectures, and skips when the addon is up to date.
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gypRebuild } from './node-gyp.mjs';

const BUILD = 'x86-64-v3';
const FLAGS = '-O3 -march=x86-64-v3';
const engineDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(engineDir, 'native', BUILD);
// native/ exists whatever happens below (the engine image copies it, empty on other architectures)
mkdirSync(join(engineDir, 'native'), { recursive: true });

if (process.arch !== 'x64') {
  console.log(`hnswlib ${BUILD} addon: not built on ${process.arch} (the portable build is used)`);
  process.exit(0);
}

const require = createRequire(join(engineDir, 'package.json'));
const packageDir = dirname(require.resolve('hnswlib-node/package.json'));
const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
const stamp = `hnswlib-node ${version}, node ${process.versions.node} (ABI ${process.versions.modules}), ${FLAGS}`;
const stampFile = join(target, 'BUILD');
if (existsSync(join(target, 'addon.node')) && existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === stamp) {
  console.log(`hnswlib ${BUILD} addon: up to date (${stamp})`);
  process.exit(0);
}

const scratch = join(engineDir, 'native', `.build-${BUILD}`);
rmSync(scratch, { recursive: true, force: true });
mkdirSync(scratch, { recursive: true });
copyFileSync(join(packageDir, 'binding.gyp'), join(scratch, 'binding.gyp'));
cpSync(join(packageDir, 'src'), join(scratch, 'src'), { recursive: true });
// binding.gyp finds node-addon-api with require() from its own directory: give it the package's
writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'hnswlib-addon-build', private: true }));
mkdirSync(join(scratch, 'node_modules'), { recursive: true });
cpSync(dirname(require.resolve('node-addon-api/package.json', { paths: [packageDir] })), join(scratch, 'node_modules', 'node-addon-api'), { recursive: true });

const started = Date.now();
const failure = gypRebuild(scratch, { ...process.env, CXXFLAGS: `${process.env.CXXFLAGS ?? ''} ${FLAGS}`.trim() });
if (failure) {
  // The portable build still works: say so loudly, but do not fail the install for an optimisation.
  console.error(failure);
  console.error(`hnswlib ${BUILD} addon: build failed; the engine will use the portable build`);
  rmSync(scratch, { recursive: true, force: true });
  process.exit(0);
}
mkdirSync(target, { recursive: true });
copyFileSync(join(scratch, 'build', 'Release', 'addon.node'), join(target, 'addon.node'));
writeFileSync(stampFile, `${stamp}\n`);
rmSync(scratch, { recursive: true, force: true });
console.log(`hnswlib ${BUILD} addon: built in ${((Date.now() - started) / 1000).toFixed(0)} s (${stamp})`);
