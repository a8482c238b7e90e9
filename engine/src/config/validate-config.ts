// Turns a partial config (from a file, a flag or the admin RPC) into a complete, valid EngineConfig,
// or refuses it with every problem named by its key path.
import { EngramError, quote } from '../errors.js';
import { configForProfile, type EngineConfig, type ShardOverride, type TenantConfig } from './engine-config.js';
import { parseProfileName, PROFILE_NAMES } from './profiles.js';
import { CONFIG_FIELDS, MAX_SHARD_OVERRIDES, MAX_TENANT_SPACES, MAX_TENANTS, rangeOf, SPACE_PATTERN, TENANT_LIMITS, TENANT_NAME, type FieldKind } from './config-schema.js';

interface Schema { [key: string]: FieldKind | Schema }

/** CONFIG_FIELDS as a tree, for walking a patch key by key. */
const SCHEMA: Schema = (() => {
  const root: Schema = {};
  for (const [path, rule] of Object.entries(CONFIG_FIELDS)) {
    const keys = path.split('.');
    let node = root;
    for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Schema;
    node[keys.at(-1)!] = rule.kind;
  }
  return root;
})();

const TENANT_KEYS = new Set(['name', 'spaces', ...Object.keys(TENANT_LIMITS)]);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The schema's rule for a key: its own keys only ('constructor' or 'toString' are unknown keys). */
function kindOf(schema: Schema, key: string): Schema[string] | undefined {
  return Object.hasOwn(schema, key) ? schema[key] : undefined;
}

function checkShape(value: Record<string, unknown>, schema: Schema, prefix: string, problems: string[]): void {
  for (const [key, v] of Object.entries(value)) {
    const path = prefix + key;
    const kind = kindOf(schema, key);
    if (kind === undefined) {
      problems.push(`unknown key ${quote(path)}`);
    } else if (typeof kind === 'object') {
      if (isPlainObject(v)) checkShape(v, kind, `${path}.`, problems);
      else problems.push(`'${path}' must be an object`);
    } else if (kind === 'int' && !Number.isInteger(v)) {
      problems.push(`'${path}' must be an integer, got ${quote(v)}`);
    } else if (kind === 'number' && (typeof v !== 'number' || !Number.isFinite(v))) {
      problems.push(`'${path}' must be a number, got ${quote(v)}`);
    } else if (kind === 'string' && typeof v !== 'string') {
      problems.push(`'${path}' must be a string, got ${quote(v)}`);
    } else if ((kind === 'tenants' || kind === 'shardOverrides') && !Array.isArray(v)) {
      problems.push(`'${path}' must be a list`);
    }
  }
}

/** Merges `patch` over `base`: objects key by key, anything else (lists included) replaced. */
export function deepMerge<T>(base: T, patch: Record<string, unknown>): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, v] of Object.entries(patch)) {
    const current = out[key];
    out[key] = isPlainObject(v) && isPlainObject(current) ? deepMerge(current, v) : v;
  }
  return out as T;
}

function get(config: EngineConfig, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (isPlainObject(o) ? o[k] : undefined), config);
}

function parseTenant(raw: unknown, index: number, problems: string[]): TenantConfig | undefined {
  const at = `tenants[${index}]`;
  if (!isPlainObject(raw)) {
    problems.push(`'${at}' must be an object`);
    return undefined;
  }
  for (const key of Object.keys(raw)) if (!TENANT_KEYS.has(key)) problems.push(`unknown key ${quote(`${at}.${key}`)}`);
  const name = raw.name;
  if (typeof name !== 'string' || !TENANT_NAME.test(name)) {
    problems.push(`'${at}.name' must be a DNS label (lower-case letters, digits, '-'), got ${quote(name)}`);
  }
  // A tenant that names no spaces owns `<name>-*`: a tenant always owns something.
  const spaces = raw.spaces === undefined || (Array.isArray(raw.spaces) && raw.spaces.length === 0) ? [`${String(name)}-*`] : raw.spaces;
  if (!Array.isArray(spaces) || spaces.some((s) => typeof s !== 'string' || !SPACE_PATTERN.test(s))) {
    problems.push(`'${at}.spaces' must list memory space ids or prefixes ending in '*' (1-64 characters of [a-z0-9_-]), got ${quote(spaces)}`);
  } else if (spaces.length > MAX_TENANT_SPACES) {
    problems.push(`'${at}.spaces' may list at most ${MAX_TENANT_SPACES} entries, got ${spaces.length}`);
  }
  const limits: Record<string, number> = {};
  for (const [key, rule] of Object.entries(TENANT_LIMITS)) {
    const v = raw[key] ?? 0;
    const integer = rule.kind === 'int';
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
      problems.push(`'${at}.${key}' must be a non-negative ${integer ? 'integer' : 'number'}, got ${quote(v)}`);
    } else if (v > rule.max!) {
      problems.push(`'${at}.${key}' must be in [${rule.min}, ${rule.max}], got ${v}`);
    }
    limits[key] = typeof v === 'number' ? v : 0;
  }
  return {
    name: String(name),
    spaces: Array.isArray(spaces) ? spaces.map(String) : [],
    rateLimit: limits.rateLimit ?? 0,
    burst: limits.burst ?? 0,
    maxVectors: limits.maxVectors ?? 0,
    maxSpaces: limits.maxSpaces ?? 0,
  };
}

/** Each override names spaces (an id, or a prefix ending in `*`) and a shard count in hnsw.shards' range. */
function checkShardOverrides(overrides: unknown[], problems: string[]): void {
  if (overrides.length > MAX_SHARD_OVERRIDES) problems.push(`'hnsw.shardOverrides' may list at most ${MAX_SHARD_OVERRIDES} entries, got ${overrides.length}`);
  const [min, max] = rangeOf('hnsw.shards');
  overrides.forEach((raw, i) => {
    const at = `hnsw.shardOverrides[${i}]`;
    if (!isPlainObject(raw)) {
      problems.push(`'${at}' must be an object with 'spaces' and 'shards'`);
      return;
    }
    for (const key of Object.keys(raw)) if (key !== 'spaces' && key !== 'shards') problems.push(`unknown key ${quote(`${at}.${key}`)}`);
    const { spaces, shards } = raw as Partial<ShardOverride>;
    if (typeof spaces !== 'string' || !SPACE_PATTERN.test(spaces)) {
      problems.push(`'${at}.spaces' must be a memory space id or a prefix ending in '*' (1-64 characters of [a-z0-9_-]), got ${quote(spaces)}`);
    }
    if (typeof shards !== 'number' || !Number.isInteger(shards) || shards < min || shards > max) {
      problems.push(`'${at}.shards' must be an integer in [${min}, ${max}], got ${quote(shards)}`);
    }
  });
}

const I8_LEFT_OUT = ' (i8 is not offered: it found 0.59 of the exact 10 nearest where f16 found 0.998, docs/benchmarks.md)';

function checkRanges(config: EngineConfig, problems: string[]): void {
  for (const [path, rule] of Object.entries(CONFIG_FIELDS)) {
    const v = get(config, path);
    if (typeof v === 'number' && rule.min !== undefined && rule.max !== undefined && (v < rule.min || v > rule.max)) {
      problems.push(`'${path}' must be in [${rule.min}, ${rule.max}], got ${v}`);
    }
    if (rule.values && !rule.values.includes(v as string)) {
      problems.push(`'${path}' must be one of ${rule.values.join(', ')}; got ${quote(v)}${path === 'hnsw.quantization' && v === 'i8' ? I8_LEFT_OUT : ''}`);
    }
  }
  if (config.hnsw.backend === 'hnswlib' && config.hnsw.quantization !== 'f32') {
    problems.push(`'hnsw.quantization' ${quote(config.hnsw.quantization)} needs 'hnsw.backend' usearch (hnswlib stores vectors as f32)`);
  }
  if (config.batch.min > config.batch.max) {
    problems.push(`'batch.min' (${config.batch.min}) must not exceed 'batch.max' (${config.batch.max})`);
  }
}

/**
 * Merges `patch` over `current`. A `profile` in the patch first resets the pool knobs to that
 * profile's preset (index shape and tenants are kept: a live engine cannot change them by accident);
 * every other key in the patch then overrides. Throws INVALID_CONFIG naming every problem: a bad
 * profile or an unknown key does not hide the rest.
 */
export function applyConfigPatch(current: EngineConfig, patch: unknown): EngineConfig {
  if (!isPlainObject(patch)) throw new EngramError('INVALID_CONFIG', 'invalid config: expected a JSON object');
  const problems: string[] = [];
  checkShape(patch, SCHEMA, '', problems);

  let base = current;
  if (patch.profile !== undefined) {
    const profile = parseProfileName(patch.profile);
    if (profile === undefined) problems.push(profileProblem(patch.profile));
    else base = { ...configForProfile(profile), hnsw: current.hnsw, tenants: current.tenants, durability: current.durability, memory: current.memory, quality: current.quality };
  }
  const { profile: _profile, tenants: rawTenants, ...rest } = patch;
  const merged = deepMerge(base, knownKeys(rest, SCHEMA));
  if (Array.isArray(rawTenants)) {
    if (rawTenants.length > MAX_TENANTS) problems.push(`'tenants' may list at most ${MAX_TENANTS} tenants, got ${rawTenants.length}`);
    merged.tenants = rawTenants.map((t, i) => parseTenant(t, i, problems)).filter((t): t is TenantConfig => !!t);
    const seen = new Set<string>();
    for (const t of merged.tenants) {
      if (seen.has(t.name)) problems.push(`tenant name '${t.name}' is not unique`);
      seen.add(t.name);
    }
  }
  if (Array.isArray(merged.hnsw.shardOverrides)) checkShardOverrides(merged.hnsw.shardOverrides, problems);
  checkRanges(merged, problems);
  if (problems.length > 0) throw new EngramError('INVALID_CONFIG', `invalid config: ${listProblems(problems)}`);
  return merged;
}

/** Problems named in one message at most: it travels as gRPC status details and in CR conditions. */
export const MAX_PROBLEMS_LISTED = 12;

function listProblems(problems: string[]): string {
  const shown = problems.slice(0, MAX_PROBLEMS_LISTED).join('; ');
  return problems.length > MAX_PROBLEMS_LISTED ? `${shown}; and ${problems.length - MAX_PROBLEMS_LISTED} more problem(s)` : shown;
}

function profileProblem(value: unknown): string {
  return `'profile' must be one of ${PROFILE_NAMES.join(', ')} (or its PascalCase spelling); got ${quote(value)}`;
}

/** The part of a patch the schema knows, with objects only where objects belong (problems are already listed). */
function knownKeys(value: Record<string, unknown>, schema: Schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const kind = kindOf(schema, key);
    if (kind === undefined) continue;
    if (typeof kind === 'object') {
      if (isPlainObject(v)) out[key] = knownKeys(v, kind);
    } else {
      out[key] = v;
    }
  }
  return out;
}

/** The config an engine starts with: a profile's preset (hnsw included) with overrides on top. */
export function resolveStartConfig(patch: Record<string, unknown> = {}): EngineConfig {
  const profile = parseProfileName(patch.profile ?? 'balanced');
  const { profile: _p, ...rest } = patch;
  if (profile !== undefined) return applyConfigPatch(configForProfile(profile), rest);
  // Report the profile with every other problem of the patch, checked over the default profile.
  try {
    applyConfigPatch(configForProfile('balanced'), rest);
  } catch (e) {
    throw new EngramError('INVALID_CONFIG', `invalid config: ${profileProblem(patch.profile)}; ${(e as EngramError).message.replace(/^invalid config: /, '')}`);
  }
  throw new EngramError('INVALID_CONFIG', `invalid config: ${profileProblem(patch.profile)}`);
}
