#!/usr/bin/env node
// The kubectl plugin `kubectl engram` (kubectl runs any `kubectl-<name>` on PATH): promote, abort,
// retry and status of an EngramStream's canary rollout. Loads the built plugin (see engram-operator.js).
import('../dist/kubectl-plugin/main.js').catch((e) => {
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('kubectl-plugin/main.js')) {
    process.stderr.write('kubectl-engram: not built yet: run `npm ci` (or `npm run build`) at the repository root\n');
    process.exit(1);
  }
  throw e;
});
