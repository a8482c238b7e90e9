import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { applyConfigPatch, CONFIG_FIELDS, DEFAULT_CONFIG, TENANT_LIMITS } from '@engram/engine/config';
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

describe('the CRD and the engine\'s config schema', () => {
  const spec = schemaOf().properties!.spec!;
  const at = (path: string): Schema | undefined =>
    path.split('.').reduce<Schema | undefined>((s, key) => s?.properties?.[key], spec);
  const tenant = spec.properties!.tenants!.items!;
  const engineKeys = Object.entries(CONFIG_FIELDS).filter(([path]) => at(path) !== undefined);

  it('admits exactly the range the engine takes, for every config key the spec has', () => {
    const disagreements: string[] = [];
    for (const [path, rule] of [...engineKeys, ...Object.entries(TENANT_LIMITS).map(([k, r]) => [`tenants[].${k}`, r] as const)]) {
      const field = path.startsWith('tenants[].') ? tenant.properties![path.slice('tenants[].'.length)]! : at(path)!;
      if (rule.min !== undefined && (field.minimum !== rule.min || field.maximum !== rule.max)) {
        disagreements.push(`${path}: CRD [${String(field.minimum)}, ${String(field.maximum)}], engine [${rule.min}, ${rule.max}]`);
      }
      if (rule.kind === 'int' && field.type !== 'integer') disagreements.push(`${path}: CRD type ${field.type}, engine int`);
      if (rule.values && !rule.values.every((v) => String(field['x-kubernetes-validations']?.[0]?.rule).includes(`'${v}'`))) {
        disagreements.push(`${path}: CRD values differ from ${rule.values.join(', ')}`);
      }
    }
    expect(disagreements).toEqual([]);
  });

  it('has every engine key that a number in the spec stands for', () => {
    const numeric = fields(spec).filter(([path, s]) => !path.includes('[]') && (s.type === 'integer' || s.type === 'number'));
    const engineLess = numeric.map(([path]) => path).filter((path) => !CONFIG_FIELDS[path] && FIELD_CLASSES[path.split('.')[0]!] !== 'scale' && !path.startsWith('ports') && !path.startsWith('rollout'));
    expect(engineLess).toEqual([]);
  });

  it.each(engineKeys.filter(([, r]) => r.min !== undefined))('%s: the engine takes the CRD\'s bounds and refuses one step past them', (path) => {
    const field = at(path)!;
    const step = field.type === 'integer' ? 1 : 0.001;
    // batch.min and batch.max are also held to min <= max: each is tested with the other at its widest.
    const others: Record<string, Record<string, number>> = { 'batch.min': { max: 10_000 }, 'batch.max': { min: 1 } };
    const merged = (v: number) => path.split('.').reduceRight<unknown>(
      (inner, key, i, keys) => ({ [key]: inner, ...(i === keys.length - 1 ? others[path] ?? {} : {}) }), v) as Record<string, unknown>;
    expect(() => applyConfigPatch(DEFAULT_CONFIG, merged(field.minimum as number))).not.toThrow();
    expect(() => applyConfigPatch(DEFAULT_CONFIG, merged(field.maximum as number))).not.toThrow();
    expect(() => applyConfigPatch(DEFAULT_CONFIG, merged((field.minimum as number) - step))).toThrow(/INVALID_CONFIG|must be in/);
    expect(() => applyConfigPatch(DEFAULT_CONFIG, merged((field.maximum as number) + step))).toThrow(/must be in/);
  });
});
