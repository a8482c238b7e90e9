// The CRD as the YAML file users `kubectl apply` (crds/engram.io_engramstreams.yaml).
import yaml from 'js-yaml';
import { buildCrd } from './crd.js';

export const CRD_FILE = 'engram.io_engramstreams.yaml';
/** Where the file is written, relative to the repository root: for kubectl, and for the chart's CRD template. */
export const CRD_PATHS = [`crds/${CRD_FILE}`, `charts/engram-operator/files/crds/${CRD_FILE}`] as const;

export function crdYaml(): string {
  const header = '# Generated from operator/src/api/v1alpha1/crd.ts by `npm run generate:crd -w operator`; do not edit.\n';
  return header + yaml.dump(buildCrd(), { lineWidth: 120, noRefs: true, quotingType: '"' });
}
