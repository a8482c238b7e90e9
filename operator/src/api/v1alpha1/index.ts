export * from './types.js';
export * from './conditions.js';
export { buildCrd } from './crd.js';
export { crdYaml, CRD_FILE, CRD_PATHS } from './crd-file.js';
