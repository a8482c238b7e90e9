// `npm run generate:crd -w operator`: writes the CRD built by crd.ts to crds/ (and the chart, later).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { crdYaml, CRD_FILE } from './crd-file.js';

const path = fileURLToPath(new URL(`../../../../crds/${CRD_FILE}`, import.meta.url));
writeFileSync(path, crdYaml());
console.log(`wrote ${path}`);
