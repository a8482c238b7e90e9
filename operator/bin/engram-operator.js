#!/usr/bin/env node
// The `engram-operator` command: a file in the repository (so npm links it at install time, before
// `prepare` builds dist/; see engine/bin/engram.js) that loads the built operator.
import('../dist/main.js').catch((e) => {
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('dist/main.js')) {
    process.stderr.write('engram-operator: the operator is not built yet: run `npm ci` (or `npm run build`) at the repository root\n');
    process.exit(1);
  }
  throw e;
});
