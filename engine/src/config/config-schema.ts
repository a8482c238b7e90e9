// The one statement of what a config key is and which values it takes. The engine validates every
// config against it (validate-config.ts) and the operator builds the EngramStream CRD's ranges from
// it (operator/src/api/v1alpha1/crd.ts), so a value the CRD admits is a value the engine takes.

export type FieldKind = 'int' | 'number' | 'string' | 'tenants' | 'shardOverrides';

export interface FieldRule {
  kind: FieldKind;
  /** Inclusive bounds of a number. */
  min?: number;
  max?: number;
  /** The values a string may take. */
  values?: readonly string[];
}

const int = (min: number, max: number): FieldRule => ({ kind: 'int', min, max });
const num = (min: number, max: number): FieldRule => ({ kind: 'number', min, max });

/**
 * Every key of EngineConfig by its dotted path. Ranges are the guide's recommended ones, widened
 * where a user could sensibly go further.
 */
export const CONFIG_FIELDS: Readonly<Record<string, FieldRule>> = {
  profile: { kind: 'string' },
  workers: int(1, 32),
  'batch.min': int(1, 10_000),
  'batch.max': int(1, 10_000),
  idleSleepMs: int(0, 1000),
  'queue.capacity': int(10, 2_000_000),
  'queue.highPriorityRatio': num(0.01, 0.5),
  stealThreshold: int(0, 10_000_000),
  'hnsw.dimension': int(2, 4096),
  'hnsw.m': int(2, 128),
  'hnsw.efConstruction': int(8, 4096),
  'hnsw.efSearch': int(1, 4096),
  'hnsw.metric': { kind: 'string', values: ['cosine', 'l2', 'ip'] },
  'hnsw.shards': int(1, 16),
  'hnsw.shardOverrides': { kind: 'shardOverrides' },
  'hnsw.autoSplit.backlog': int(0, 2_000_000),
  'hnsw.autoSplit.maxShards': int(1, 16),
  'hnsw.backend': { kind: 'string', values: ['hnswlib', 'usearch'] },
  // i8 is left out: recall@10 0.59 against 0.998 for f16 on the same data (docs/benchmarks.md)
  'hnsw.quantization': { kind: 'string', values: ['f32', 'f16'] },
  'hnsw.insertThreads': int(0, 64),
  tenants: { kind: 'tenants' },
  'durability.syncPolicy': { kind: 'string', values: ['batch', 'interval', 'none'] },
  'durability.syncIntervalMs': int(1, 60_000),
  'durability.snapshotIntervalMs': int(1000, 86_400_000),
  'durability.snapshotLogBytes': int(1024 * 1024, 1024 ** 4),
  'durability.segmentBytes': int(64 * 1024, 1024 ** 3),
  'memory.limitBytes': int(0, 2 ** 50),
  'memory.highWatermark': num(0.1, 1),
  'quality.sampleRate': num(0, 1),
};

/** A tenant's numeric limits (0 = unlimited for each). */
export const TENANT_LIMITS: Readonly<Record<'rateLimit' | 'burst' | 'maxVectors' | 'maxSpaces', FieldRule>> = {
  rateLimit: num(0, 10_000_000),
  burst: int(0, 100_000_000),
  maxVectors: int(0, 2 ** 50),
  maxSpaces: int(0, 1_000_000),
};

export const TENANT_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** A memory space id, or a prefix of one ending in `*`. */
export const SPACE_PATTERN = /^[a-z0-9_-]{1,64}\*?$/;
export const MAX_TENANTS = 100;
export const MAX_TENANT_SPACES = 64;
export const MAX_SHARD_OVERRIDES = 64;

/** The bounds of a numeric key, for schemas built from this one. */
export function rangeOf(path: string): [min: number, max: number] {
  const rule = CONFIG_FIELDS[path] ?? TENANT_LIMITS[path as keyof typeof TENANT_LIMITS];
  if (rule?.min === undefined || rule.max === undefined) throw new Error(`config key '${path}' has no range`);
  return [rule.min, rule.max];
}

/** The values a string key takes. */
export function valuesOf(path: string): readonly string[] {
  const values = CONFIG_FIELDS[path]?.values;
  if (!values) throw new Error(`config key '${path}' has no value list`);
  return values;
}
