// Runs node-gyp for the engine's install-time native builds (build-simd-addon.mjs,
// build-memory-release.mjs) without downloading anything: node-gyp as npm runs it for install
// scripts (else the copy bundled with npm beside this node), and node's headers from npm's nodedir
// setting (else those installed beside this node).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** `node-gyp rebuild --release` in `dir`; returns null on success, else why it failed. */
export function gypRebuild(dir, env = process.env) {
  const gyp = nodeGyp();
  if (!gyp) return 'node-gyp not found (npm_config_node_gyp, or npm beside this node)';
  // every core: usearch's kernels are the longest compile of an install
  const args = [gyp, 'rebuild', '--release', '--jobs', 'max'];
  const nodedir = nodeHeaders();
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  const result = spawnSync(process.execPath, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env });
  if (result.status === 0) return null;
  // the compiler's messages are shown only when the build fails
  return `node-gyp exit ${result.status}:\n${(result.stderr ?? '').split('\n').slice(-40).join('\n')}`;
}

function nodeHeaders() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = join(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((c) => c && existsSync(c)) ?? null;
}
