import { configHash } from '@engram/engine/config';
import { describe, expect, it } from 'vitest';
import { calculateEngineConfig, engineConfigPatch } from './engine-config.js';

describe('calculateEngineConfig', () => {
  it('starts from the profile preset and lets every field set in the spec override it', () => {
    const { config, hash } = calculateEngineConfig({ profile: 'MemoryConstrained', workers: 3, hnsw: { efSearch: 80 } });
    expect(config).toMatchObject({ profile: 'memory-constrained', workers: 3, batch: { min: 10, max: 100 }, hnsw: { m: 8, efConstruction: 100, efSearch: 80, dimension: 768 } });
    expect(hash).toBe(configHash(config));
  });

  it('gives the same hash for specs that mean the same config', () => {
    expect(calculateEngineConfig({}).hash).toBe(calculateEngineConfig({ profile: 'Balanced', workers: 4 }).hash);
    expect(calculateEngineConfig({ workers: 5 }).hash).not.toBe(calculateEngineConfig({}).hash);
  });

  it('refuses what the engine would refuse, naming the key', () => {
    expect(() => calculateEngineConfig({ batch: { max: 5 } })).toThrow("'batch.min' (10) must not exceed 'batch.max' (5)");
  });

  it('never passes operator-only fields to the engine', () => {
    const patch = engineConfigPatch({ replicas: 1, image: 'x', storage: { size: '1Gi' }, ports: { grpc: 1 }, workers: 2 });
    expect(Object.keys(patch).sort()).toEqual(['profile', 'workers']);
  });
});
