import { describe, expect, it } from 'vitest';
import { isEngramError } from '../errors.js';
import { configForProfile, configHash, DEFAULT_CONFIG } from './engine-config.js';
import { PROFILE_NAMES } from './profiles.js';
import { applyConfigPatch, resolveStartConfig } from './validate-config.js';

function refusal(patch: unknown): string {
  try {
    applyConfigPatch(DEFAULT_CONFIG, patch);
  } catch (e) {
    expect(isEngramError(e, 'INVALID_CONFIG')).toBe(true);
    return (e as Error).message;
  }
  throw new Error('the patch was accepted');
}

describe('applyConfigPatch', () => {
  it.each([
    ['min batch over max batch', { batch: { min: 600, max: 500 } }, "'batch.min' (600) must not exceed 'batch.max' (500)"],
    ['zero workers', { workers: 0 }, "'workers' must be in [1, 32], got 0"],
    ['negative capacity', { queue: { capacity: -5 } }, "'queue.capacity' must be in [10, 2000000], got -5"],
    ['an unknown key', { wokers: 2 }, "unknown key 'wokers'"],
    ['an unknown nested key', { queue: { size: 10 } }, "unknown key 'queue.size'"],
    ['a fractional worker count', { workers: 2.5 }, "'workers' must be an integer, got 2.5"],
    ['a string where a number goes', { stealThreshold: 'lots' }, "'stealThreshold' must be an integer"],
    ['a ratio out of range', { queue: { highPriorityRatio: 0.9 } }, "'queue.highPriorityRatio' must be in [0.01, 0.5], got 0.9"],
    ['an unknown metric', { hnsw: { metric: 'hamming' } }, "'hnsw.metric' must be one of cosine, l2, ip"],
    ['an unknown profile', { profile: 'turbo' }, "'profile' must be one of low-latency"],
    ['duplicate tenant names', { tenants: [{ name: 'a' }, { name: 'a' }] }, "tenant name 'a' is not unique"],
    ['a bad tenant name', { tenants: [{ name: 'Acme Corp' }] }, "'tenants[0].name' must be a DNS label"],
    ['a negative tenant rate', { tenants: [{ name: 'a', rateLimit: -1 }] }, "'tenants[0].rateLimit' must be a non-negative number"],
    ['a bad space pattern', { tenants: [{ name: 'a', spaces: ['Bad Space'] }] }, "'tenants[0].spaces' must list memory space ids"],
    ['not an object', [1, 2], 'expected a JSON object'],
    ['too many shards', { hnsw: { shards: 17 } }, "'hnsw.shards' must be in [1, 16], got 17"],
    ['shard overrides that are not a list', { hnsw: { shardOverrides: { hot: 2 } } }, "'hnsw.shardOverrides' must be a list"],
    ['a shard override with a bad pattern', { hnsw: { shardOverrides: [{ spaces: 'Hot*', shards: 2 }] } }, "'hnsw.shardOverrides[0].spaces' must be a memory space id or a prefix"],
    ['a shard override out of range', { hnsw: { shardOverrides: [{ spaces: 'hot-*', shards: 0 }] } }, "'hnsw.shardOverrides[0].shards' must be an integer in [1, 16], got 0"],
    ['a shard override with an unknown key', { hnsw: { shardOverrides: [{ spaces: 'hot', shards: 2, split: true }] } }, "unknown key 'hnsw.shardOverrides[0].split'"],
  ])('refuses %s, naming the problem', (_name, patch, message) => {
    expect(refusal(patch)).toContain(message);
  });

  it('lists every problem of a patch at once', () => {
    const shape = refusal({ wokers: 1, queue: { size: 1 }, idleSleepMs: 'x' });
    expect(shape).toContain("unknown key 'wokers'");
    expect(shape).toContain("unknown key 'queue.size'");
    expect(shape).toContain("'idleSleepMs' must be an integer");
    const ranges = refusal({ workers: 0, batch: { min: 900, max: 800 }, queue: { capacity: 1 } });
    expect(ranges).toContain("'workers' must be in [1, 32]");
    expect(ranges).toContain("'batch.min' (900) must not exceed 'batch.max' (800)");
    expect(ranges).toContain("'queue.capacity' must be in [10, 2000000]");
  });

  it('takes usearch at f32 or f16, and refuses f16 on hnswlib and i8 anywhere, saying why', () => {
    const current = resolveStartConfig();
    expect(applyConfigPatch(current, { hnsw: { backend: 'usearch', quantization: 'f16', insertThreads: 2 } }).hnsw).toMatchObject({ backend: 'usearch', quantization: 'f16', insertThreads: 2 });
    expect(refusal({ hnsw: { quantization: 'f16' } })).toContain("'hnsw.quantization' 'f16' needs 'hnsw.backend' usearch");
    expect(refusal({ hnsw: { backend: 'usearch', quantization: 'i8' } })).toContain("'hnsw.quantization' must be one of f32, f16; got 'i8' (i8 is not offered: it found 0.59");
    expect(refusal({ hnsw: { backend: 'faiss' } })).toContain("'hnsw.backend' must be one of hnswlib, usearch; got 'faiss'");
    expect(refusal({ hnsw: { backend: 'usearch', insertThreads: 65 } })).toContain("'hnsw.insertThreads' must be in [0, 64]");
  });

  it('names a bad profile together with every other problem', () => {
    const message = refusal({ profile: 'turbo', wokers: 1, workers: 99 });
    expect(message).toContain("'profile' must be one of");
    expect(message).toContain("unknown key 'wokers'");
    expect(message).toContain("'workers' must be in [1, 32]");
    expect(() => resolveStartConfig({ profile: 'turbo', workers: 99 })).toThrow(/'profile' must be one of .*'turbo'.*'workers' must be in \[1, 32\]/);
  });

  it('quotes at most a short prefix of what it was sent', () => {
    const message = refusal({ profile: 'p'.repeat(20_000), ['k'.repeat(5000)]: 1 });
    expect(message.length).toBeLessThan(600);
    expect(message).toContain('(20000 characters)');
    expect(message).toContain('(5000 characters)');
  });

  it('gives a tenant that names no spaces the spaces <name>-*', () => {
    const next = applyConfigPatch(DEFAULT_CONFIG, { tenants: [{ name: 'acme' }, { name: 'zeta', spaces: [] }] });
    expect(next.tenants.map((t) => t.spaces)).toEqual([['acme-*'], ['zeta-*']]);
  });

  it('merges a partial patch over the running config', () => {
    const next = applyConfigPatch(DEFAULT_CONFIG, { batch: { max: 200 }, hnsw: { efSearch: 128 } });
    expect(next.batch).toEqual({ min: 10, max: 200 });
    expect(next.hnsw.efSearch).toBe(128);
    expect(next.hnsw.m).toBe(16);
    expect(next.workers).toBe(DEFAULT_CONFIG.workers);
  });

  it('resets the pool knobs to a new profile but keeps the index shape and tenants', () => {
    const running = applyConfigPatch(DEFAULT_CONFIG, { hnsw: { m: 24 }, tenants: [{ name: 'acme', spaces: ['acme-*'] }] });
    const next = applyConfigPatch(running, { profile: 'LowLatency', batch: { max: 40 } });
    expect(next.profile).toBe('low-latency');
    expect(next.workers).toBe(8);
    expect(next.batch).toEqual({ min: 10, max: 40 });
    expect(next.hnsw.m).toBe(24);
    expect(next.tenants.map((t) => t.name)).toEqual(['acme']);
  });

  it('fills tenant defaults (unlimited)', () => {
    const next = applyConfigPatch(DEFAULT_CONFIG, { tenants: [{ name: 'acme', spaces: ['acme-*'], rateLimit: 100 }] });
    expect(next.tenants[0]).toEqual({ name: 'acme', spaces: ['acme-*'], rateLimit: 100, burst: 0, maxVectors: 0, maxSpaces: 0 });
  });
});

describe('resolveStartConfig', () => {
  it('starts balanced by default, as the guide says', () => {
    const c = resolveStartConfig();
    expect(c).toEqual(DEFAULT_CONFIG);
    expect(c).toMatchObject({ workers: 4, batch: { min: 10, max: 500 }, idleSleepMs: 1, queue: { capacity: 10_000, highPriorityRatio: 0.1 }, stealThreshold: 1000 });
    expect(c.hnsw).toEqual({ dimension: 768, m: 16, efConstruction: 200, efSearch: 64, metric: 'cosine', shards: 1, shardOverrides: [], autoSplit: { backlog: 0, maxShards: 4 }, backend: 'hnswlib', quantization: 'f32', insertThreads: 1 });
  });

  it.each(PROFILE_NAMES)('resolves the %s profile to its preset', (profile) => {
    expect(resolveStartConfig({ profile })).toEqual(configForProfile(profile));
  });

  it('uses the memory-constrained profile\'s smaller HNSW graph', () => {
    expect(resolveStartConfig({ profile: 'MemoryConstrained' }).hnsw).toMatchObject({ m: 8, efConstruction: 100 });
  });

  it('gives equal configs equal hashes and different configs different ones', () => {
    expect(configHash(resolveStartConfig())).toBe(configHash(configForProfile('balanced')));
    expect(configHash(resolveStartConfig({ workers: 3 }))).not.toBe(configHash(resolveStartConfig()));
  });
});
