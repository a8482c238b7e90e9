#!/usr/bin/env node
// The `engram` command. npm links a workspace's bin when it installs the workspace, before
// `prepare` has built dist/: a bin pointing into dist/ does not exist then and is silently not
// linked (`npx engram` then asks the registry for a package named engram). This file is in the
// repository, so it is always linked; it loads the built CLI.
import('../dist/cli/main.js').catch((e) => {
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('dist/cli/main.js')) {
    process.stderr.write('engram: the engine is not built yet: run `npm ci` (or `npm run build`) at the repository root\n');
    process.exit(1);
  }
  throw e;
});
