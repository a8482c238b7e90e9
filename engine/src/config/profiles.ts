// The five workload profiles of the streaming tuning guide, as presets of the live pool knobs.
// Every explicit key in a config overrides its profile's preset.

export const PROFILE_NAMES = ['low-latency', 'high-throughput', 'balanced', 'memory-constrained', 'multi-tenant'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** The CRD spells profiles in PascalCase; both spellings are accepted everywhere. */
const PASCAL_ALIASES: Record<string, ProfileName> = {
  LowLatency: 'low-latency',
  HighThroughput: 'high-throughput',
  Balanced: 'balanced',
  MemoryConstrained: 'memory-constrained',
  MultiTenant: 'multi-tenant',
};

export interface ProfilePreset {
  workers: number;
  batch: { min: number; max: number };
  idleSleepMs: number;
  queue: { capacity: number; highPriorityRatio: number };
  stealThreshold: number;
  hnsw?: { m: number; efConstruction: number };
}

export const PROFILES: Readonly<Record<ProfileName, ProfilePreset>> = {
  'low-latency': {
    workers: 8, batch: { min: 10, max: 50 }, idleSleepMs: 0,
    queue: { capacity: 10_000, highPriorityRatio: 0.2 }, stealThreshold: 100,
  },
  'high-throughput': {
    workers: 4, batch: { min: 100, max: 1000 }, idleSleepMs: 5,
    queue: { capacity: 100_000, highPriorityRatio: 0.05 }, stealThreshold: 5000,
  },
  balanced: {
    workers: 4, batch: { min: 10, max: 500 }, idleSleepMs: 1,
    queue: { capacity: 10_000, highPriorityRatio: 0.1 }, stealThreshold: 1000,
  },
  'memory-constrained': {
    workers: 2, batch: { min: 10, max: 100 }, idleSleepMs: 10,
    queue: { capacity: 1_000, highPriorityRatio: 0.1 }, stealThreshold: 200,
    hnsw: { m: 8, efConstruction: 100 },
  },
  'multi-tenant': {
    workers: 8, batch: { min: 10, max: 100 }, idleSleepMs: 1,
    queue: { capacity: 50_000, highPriorityRatio: 0.15 }, stealThreshold: 500,
  },
};

export function parseProfileName(value: unknown): ProfileName | undefined {
  if (typeof value !== 'string') return undefined;
  if ((PROFILE_NAMES as readonly string[]).includes(value)) return value as ProfileName;
  // own keys only: '__proto__' or 'toString' are not profiles (found by the config fuzz test)
  return Object.hasOwn(PASCAL_ALIASES, value) ? PASCAL_ALIASES[value] : undefined;
}
