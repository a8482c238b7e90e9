// Generates TypeScript types for engram.proto with proto-loader's own generator, then adds the
// `.js` extensions that NodeNext module resolution requires (the generator emits bare paths).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'src', 'generated');
const require = createRequire(import.meta.url);
const generator = join(dirname(require.resolve('@grpc/proto-loader/package.json')), 'build', 'bin', 'proto-loader-gen-types.js');

rmSync(outDir, { recursive: true, force: true });
execFileSync(process.execPath, [
  generator, '--longs=Number', '--enums=String', '--defaults', '--oneofs',
  '--grpcLib=@grpc/grpc-js', `--outDir=${outDir}`, 'proto/engram/v1/engram.proto',
], { cwd: root, stdio: 'inherit' });

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (path.endsWith('.ts')) yield path;
  }
}
for (const file of files(outDir)) {
  const text = readFileSync(file, 'utf8').replace(/from '(\.{1,2}\/[^']+)'/g, "from '$1.js'");
  writeFileSync(file, text);
}
