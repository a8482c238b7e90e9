import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FIELD_CLASSES } from '../../controllers/engram-stream/engine-config.js';
import { buildCrd, type Schema } from './crd.js';
import { crdYaml, CRD_PATHS } from './crd-file.js';

function schemaOf(): Schema {
  const crd = buildCrd() as { spec: { versions: Array<{ schema: { openAPIV3Schema: Schema } }> } };
  return crd.spec.versions[0]!.schema.openAPIV3Schema;
}

/** Every field path under a schema, with its schema. */
function fields(schema: Schema, prefix = ''): Array<[string, Schema]> {
  const out: Array<[string, Schema]> = [];
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    const path = prefix ? `${prefix}.${name}` : name;
    out.push([path, child], ...fields(child, path));
    if (child.items) out.push(...fields(child.items, `${path}[]`));
  }
  return out;
}

describe('the EngramStream CRD', () => {
  it.each(CRD_PATHS)('is the file %s, as generated (run `npm run generate:crd -w operator` after changing crd.ts)', (relative) => {
    const committed = readFileSync(fileURLToPath(new URL(`../../../../${relative}`, import.meta.url)), 'utf8');
    expect(committed).toBe(crdYaml());
  });

  it('describes every field, so kubectl explain reads well', () => {
    const undocumented = fields(schemaOf()).filter(([path, s]) => path !== 'metadata' && !s.description).map(([path]) => path);
    expect(undocumented).toEqual([]);
  });

  it('sorts every spec field into a change class', () => {
    const spec = schemaOf().properties!.spec!;
    // Leaves and lists; an object's fields are classified one by one (or the object as a whole).
    const leaves = fields(spec).filter(([path, s]) => !path.includes('[]') && (!s.properties || Object.keys(s.properties).length === 0)).map(([path]) => path);
    const unclassified = leaves.filter((p) => !Object.keys(FIELD_CLASSES).some((c) => p === c || p.startsWith(`${c}.`)));
    expect(unclassified).toEqual([]);
  });
});
