// `npm run generate:crd -w operator`: writes the CRD built by crd.ts to crds/ and into the chart.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { crdYaml, CRD_PATHS } from './crd-file.js';

for (const relative of CRD_PATHS) {
  const path = fileURLToPath(new URL(`../../../../${relative}`, import.meta.url));
  writeFileSync(path, crdYaml());
  console.log(`wrote ${path}`);
}
