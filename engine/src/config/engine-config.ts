// The engine's live configuration: its shape, its defaults, and the three classes its keys fall in.
import { createHash } from 'node:crypto';
import { PROFILES, type ProfileName } from './profiles.js';

export type Metric = 'cosine' | 'l2' | 'ip';

export interface TenantConfig {
  /** DNS-label style name, unique among tenants. */
  name: string;
  /** Memory spaces the tenant owns: exact ids, or prefixes ending in `*`. */
  spaces: string[];
  /** Observations per second (token bucket); 0 = unlimited. */
  rateLimit: number;
  /** Token bucket size; 0 = one second's worth of `rateLimit`. */
  burst: number;
  /** Vectors across all the tenant's spaces; 0 = unlimited. */
  maxVectors: number;
  /** Memory spaces the tenant may create; 0 = unlimited. */
  maxSpaces: number;
}

/** The library an index is built with (see index/vector-graph.ts). */
export type IndexBackend = 'hnswlib' | 'usearch';
/** The precision a usearch index stores vectors at (hnswlib stores f32). */
export type Quantization = 'f32' | 'f16';

export interface HnswConfig {
  dimension: number;
  m: number;
  efConstruction: number;
  efSearch: number;
  metric: Metric;
  /**
   * Shards a new memory space is split into, each its own index on its own worker where it can
   * be (a space keeps the count it was created with).
   */
  shards: number;
  /** Shard counts for some spaces (first match wins): `spaces` is an id, or a prefix ending in `*`. */
  shardOverrides: ShardOverride[];
  /**
   * Automatic splitting: a space whose queue stays over `backlog` observations while a worker is
   * idle gets twice its shards, up to `maxShards` (backlog 0: off).
   */
  autoSplit: { backlog: number; maxShards: number };
  /** The library new indexes are built with; a change rebuilds every index in the background. */
  backend: IndexBackend;
  /** usearch only: f16 halves a vector's memory; a change rebuilds like a backend change. */
  quantization: Quantization;
  /**
   * usearch only: the most threads one insert of a batch may use, each on the core of a worker
   * that is idle at that moment (0 = as many as there are idle workers; 1, the default = the
   * worker's own thread only: concurrent inserts leave a few more points unreachable).
   */
  insertThreads: number;
}

/**
 * The backend and quantization of an index, with the defaults that a snapshot manifest or a peer
 * of an earlier version leaves out (its index was hnswlib, f32).
 */
export function graphKind(hnsw: Partial<Pick<HnswConfig, 'backend' | 'quantization'>>): { backend: IndexBackend; quantization: Quantization } {
  return { backend: hnsw.backend ?? 'hnswlib', quantization: hnsw.quantization ?? 'f32' };
}

export interface ShardOverride {
  spaces: string;
  shards: number;
}

export type SyncPolicy = 'batch' | 'interval' | 'none';

/** How accepted observations are made durable (used when the engine has a data directory). */
export interface DurabilityConfig {
  /** batch: fdatasync before ACCEPTED; interval: every syncIntervalMs; none: left to the kernel. */
  syncPolicy: SyncPolicy;
  syncIntervalMs: number;
  /** Snapshot changed spaces (and truncate the log behind them) at least this often... */
  snapshotIntervalMs: number;
  /** ...or sooner, once this many bytes were appended to the log. */
  snapshotLogBytes: number;
  /** A log segment is closed, and a new one started, at this size (whole segments are truncated). */
  segmentBytes: number;
}

export const DEFAULT_DURABILITY: Readonly<DurabilityConfig> = {
  syncPolicy: 'batch', syncIntervalMs: 100, snapshotIntervalMs: 60_000, snapshotLogBytes: 256 * 1024 * 1024,
  segmentBytes: 64 * 1024 * 1024,
};

/** Memory the engine may use before it refuses new observations (see memory/memory-guard.ts). */
export interface MemoryConfig {
  /** 0 = the limit of the engine's cgroup (container or pod), if it has one. */
  limitBytes: number;
  /** Share of the limit (resident + queued) above which new observations are refused. */
  highWatermark: number;
}

/** Shadow recalls that measure recall quality (see index/recall-quality.ts). */
export interface QualityConfig {
  /** Share of recalls also answered by an exact search over the space, to measure recall@k. */
  sampleRate: number;
}

export interface EngineConfig {
  profile: ProfileName;
  workers: number;
  batch: { min: number; max: number };
  /** How long a worker with less than `batch.min` waiting lingers for more before it starts. */
  idleSleepMs: number;
  queue: { capacity: number; highPriorityRatio: number };
  /** Queue depth over which an idle worker takes a memory space off a busy one; 0 = never. */
  stealThreshold: number;
  hnsw: HnswConfig;
  tenants: TenantConfig[];
  durability: DurabilityConfig;
  memory: MemoryConfig;
  quality: QualityConfig;
}

export const DEFAULT_HNSW: Readonly<HnswConfig> = {
  dimension: 768, m: 16, efConstruction: 200, efSearch: 64, metric: 'cosine', shards: 1, shardOverrides: [], autoSplit: { backlog: 0, maxShards: 4 },
  backend: 'hnswlib', quantization: 'f32', insertThreads: 1,
};

export function configForProfile(profile: ProfileName): EngineConfig {
  const preset = PROFILES[profile];
  return {
    profile,
    workers: preset.workers,
    batch: { ...preset.batch },
    idleSleepMs: preset.idleSleepMs,
    queue: { ...preset.queue },
    stealThreshold: preset.stealThreshold,
    hnsw: { ...DEFAULT_HNSW, ...(preset.hnsw ?? {}) },
    tenants: [],
    durability: { ...DEFAULT_DURABILITY },
    memory: { limitBytes: 0, highWatermark: 0.9 },
    // Off unless asked for: each measured recall reads the whole space (see index/space-index.ts).
    quality: { sampleRate: 0 },
  };
}

export const DEFAULT_CONFIG: Readonly<EngineConfig> = configForProfile('balanced');

/**
 * Keys that fix what a stored vector is. They can be set freely until the first memory space
 * exists; after that a change needs a new engine (its data cannot be converted), refused live
 * with CONFIG_NOT_LIVE. M and efConstruction change live: each space's index is rebuilt in the
 * background.
 */
export const VECTOR_SHAPE_KEYS = ['dimension', 'metric'] as const;

/** Canonical JSON: keys sorted at every level, so equal configs hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  });
}

export function configHash(config: EngineConfig): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 16);
}
