// Every metric the engine exports, on one registry created here and passed in (never the global
// default registry, so tests and several engines in one process do not share counters). Worker
// threads record nothing themselves: they report measurements in their messages and the pool
// records them here, so /metrics of the main thread is the whole engine.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const FAST_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const BATCH_BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500];

export function createEngineMetrics(registry = new Registry()) {
  const r = { registers: [registry] };
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    observations: new Counter({ ...r, name: 'engram_streaming_observations_total', help: 'Observations accepted, by memory space and priority lane', labelNames: ['memory_space', 'priority'] }),
    rejected: new Counter({ ...r, name: 'engram_streaming_observations_rejected_total', help: 'Observations turned away, by memory space and reason', labelNames: ['memory_space', 'reason'] }),
    indexed: new Counter({ ...r, name: 'engram_streaming_observations_indexed_total', help: 'Observations made searchable, by memory space', labelNames: ['memory_space'] }),
    backpressureActivations: new Counter({ ...r, name: 'engram_streaming_backpressure_activations_total', help: 'Times a session of the space was told pressure rose to a level', labelNames: ['memory_space', 'level'] }),
    batches: new Counter({ ...r, name: 'engram_streaming_batches_processed_total', help: 'Batches indexed, by worker', labelNames: ['worker_id'] }),
    batchFailures: new Counter({ ...r, name: 'engram_streaming_batch_failures_total', help: 'Observations a worker failed to index, by worker and error type', labelNames: ['worker_id', 'error_type'] }),
    moveFailures: new Counter({ ...r, name: 'engram_streaming_space_move_failures_total', help: 'Memory space moves between workers that failed (the space stayed with its worker)' }),
    workStolen: new Counter({ ...r, name: 'engram_streaming_work_stolen_total', help: 'Memory spaces an idle worker took over from a busy one, by the taking worker', labelNames: ['worker_id'] }),
    queueDepth: new Gauge({ ...r, name: 'engram_streaming_queue_depth', help: 'Waiting work by lane: high = recalls in flight, normal = observations queued', labelNames: ['priority'] }),
    queueCapacity: new Gauge({ ...r, name: 'engram_streaming_queue_capacity', help: 'Capacity of each lane', labelNames: ['priority'] }),
    workerUtilization: new Gauge({ ...r, name: 'engram_streaming_worker_utilization', help: 'Share of the last second a worker spent indexing or recalling (0-1)', labelNames: ['worker_id'] }),
    workerQueueDepth: new Gauge({ ...r, name: 'engram_streaming_worker_queue_depth', help: 'Observations queued for the spaces a worker owns', labelNames: ['worker_id'] }),
    workers: new Gauge({ ...r, name: 'engram_streaming_workers', help: 'Worker threads running' }),
    activeSessions: new Gauge({ ...r, name: 'engram_streaming_active_sessions_total', help: 'Open observation streams' }),
    backpressureState: new Gauge({ ...r, name: 'engram_streaming_backpressure_state', help: 'Pressure level seen by the space: 0 normal, 1 warning, 2 critical, 3 overloaded', labelNames: ['memory_space'] }),
    queueMemory: new Gauge({ ...r, name: 'engram_streaming_queue_memory_bytes', help: 'Bytes held by queued observations (vectors plus an estimate of the rest)' }),
    spaceVectors: new Gauge({ ...r, name: 'engram_index_vectors', help: 'Vectors stored in a memory space index', labelNames: ['memory_space'] }),
    spaceShards: new Gauge({ ...r, name: 'engram_index_shards', help: 'Shards a memory space is split into, each its own index (1: not split)', labelNames: ['memory_space'] }),
    shardVectors: new Gauge({ ...r, name: 'engram_index_shard_vectors', help: 'Vectors in each shard of a memory space split into shards (at most 16 per space)', labelNames: ['memory_space', 'shard'] }),
    tenantVectors: new Gauge({ ...r, name: 'engram_tenant_vectors', help: 'Vectors a tenant stores (indexed plus pending)', labelNames: ['tenant'] }),
    tenantVectorQuota: new Gauge({ ...r, name: 'engram_tenant_vector_quota', help: 'A tenant\'s vector quota (0 = unlimited)', labelNames: ['tenant'] }),
    tenantObservations: new Counter({ ...r, name: 'engram_tenant_observations_total', help: 'Observations accepted, by tenant (tenants are configured: bounded cardinality)', labelNames: ['tenant'] }),
    tenantRateLimit: new Gauge({ ...r, name: 'engram_tenant_rate_limit', help: 'A tenant\'s rate limit in observations per second (0 = unlimited)', labelNames: ['tenant'] }),
    tenantDelayed: new Counter({ ...r, name: 'engram_tenant_observations_delayed_total', help: 'Observations held for their tenant\'s rate-limit tokens (accepted late, at the rate, instead of refused)', labelNames: ['tenant'] }),
    tenantRejected: new Counter({ ...r, name: 'engram_tenant_observations_rejected_total', help: 'Observations turned away by tenant limits', labelNames: ['tenant', 'reason'] }),
    configGeneration: new Gauge({ ...r, name: 'engram_config_generation', help: 'Generation of the config in effect' }),
    hnswBuild: new Gauge({ ...r, name: 'engram_hnsw_build_info', help: 'The compiled hnswlib this engine runs (value 1): x86-64-v3 (AVX2, FMA) or portable', labelNames: ['build'] }),
    configInfo: new Gauge({ ...r, name: 'engram_config_info', help: 'The config in effect (value 1), by hash and profile', labelNames: ['config_hash', 'profile'] }),
    observationLatency: new Histogram({ ...r, name: 'engram_streaming_observation_latency_seconds', help: 'Time from acceptance to searchable, by memory space', labelNames: ['memory_space'], buckets: LATENCY_BUCKETS }),
    recallLatency: new Histogram({ ...r, name: 'engram_streaming_recall_latency_seconds', help: 'Time to answer a recall that reached an index (refused recalls are counted by grpc_server_handled_total)', buckets: FAST_BUCKETS }),
    recallQualityHits: new Counter({ ...r, name: 'engram_recall_quality_hits_total', help: 'Of the exact k nearest neighbours of sampled recalls (shadow exact searches), how many the HNSW answer found; recall@k = rate of this / rate of engram_recall_quality_expected_total' }),
    recallQualityExpected: new Counter({ ...r, name: 'engram_recall_quality_expected_total', help: 'Exact k nearest neighbours of sampled recalls (the denominator of recall@k)' }),
    batchSize: new Histogram({ ...r, name: 'engram_streaming_batch_size', help: 'Observations per indexed batch, by worker', labelNames: ['worker_id'], buckets: BATCH_BUCKETS }),
    queueWait: new Histogram({ ...r, name: 'engram_streaming_queue_wait_time_seconds', help: 'Time waiting in the queue before a worker takes the work, by lane', labelNames: ['priority'], buckets: LATENCY_BUCKETS }),
    workerRestarts: new Counter({ ...r, name: 'engram_streaming_worker_restarts_total', help: 'Worker threads that died and were replaced, by worker', labelNames: ['worker_id'] }),
    walWrittenBytes: new Counter({ ...r, name: 'engram_wal_written_bytes_total', help: 'Bytes appended to the write-ahead log' }),
    walSync: new Histogram({ ...r, name: 'engram_wal_sync_duration_seconds', help: 'Time of one fdatasync of the write-ahead log', buckets: FAST_BUCKETS }),
    walFailures: new Counter({ ...r, name: 'engram_wal_failures_total', help: 'Times the write-ahead log could not write, by errno code', labelNames: ['code'] }),
    walWritable: new Gauge({ ...r, name: 'engram_wal_writable', help: '1 while the write-ahead log accepts appends, 0 while its data directory cannot be written' }),
    walDamagedTails: new Counter({ ...r, name: 'engram_wal_damaged_tails_total', help: 'Torn or corrupt log tails found at recovery (each cut back to its last good record)' }),
    walDamagedBytes: new Counter({ ...r, name: 'engram_wal_damaged_bytes_total', help: 'Bytes dropped after the last good record of a damaged log tail' }),
    walReplayed: new Counter({ ...r, name: 'engram_wal_replayed_records_total', help: 'Log records queued again at start or for a restarted worker' }),
    walTruncatedSegments: new Counter({ ...r, name: 'engram_wal_truncated_segments_total', help: 'Log segments deleted because snapshots cover them' }),
    snapshots: new Counter({ ...r, name: 'engram_snapshots_total', help: 'Memory space snapshots, by result: written, failed, deferred (held back until memory allows)', labelNames: ['result'] }),
    snapshotDuration: new Histogram({ ...r, name: 'engram_snapshot_duration_seconds', help: 'Time to write one memory space snapshot', buckets: LATENCY_BUCKETS }),
    recovering: new Gauge({ ...r, name: 'engram_recovering', help: '1 while the engine recovers at start (loading snapshots, replaying the log)' }),
    rebuildProgress: new Gauge({ ...r, name: 'engram_index_rebuild_progress_ratio', help: 'Share of a memory space index rebuilt with new HNSW parameters (1 = done)', labelNames: ['memory_space'] }),
    rebuilds: new Counter({ ...r, name: 'engram_index_rebuilds_total', help: 'Memory space index rebuilds, by result', labelNames: ['result'] }),
    rebuildsPending: new Gauge({ ...r, name: 'engram_index_rebuilds_pending', help: 'Memory spaces whose index still has other HNSW parameters than the config' }),
    reshardProgress: new Gauge({ ...r, name: 'engram_index_reshard_progress_ratio', help: 'Share of the new shards of the memory space being resharded that is built (0 when none is)' }),
    borrowedCoreSeconds: new Counter({ ...r, name: 'engram_index_borrowed_core_seconds_total', help: 'Core-seconds of idle workers that this worker\'s multi-threaded usearch inserts used (hnsw.insertThreads)', labelNames: ['worker_id'] }),
    reshards: new Counter({ ...r, name: 'engram_index_reshards_total', help: 'Memory space reshards (a change of shard count applied live), by result', labelNames: ['result'] }),
    reshardsPending: new Gauge({ ...r, name: 'engram_index_reshards_pending', help: 'Memory spaces whose shard count still differs from the config' }),
    memoryLimit: new Gauge({ ...r, name: 'engram_memory_limit_bytes', help: 'Memory the engine may use (config or cgroup; 0 = no limit)' }),
    memoryProjected: new Gauge({ ...r, name: 'engram_memory_projected_bytes', help: 'Resident memory plus what the queue holds (the guard compares this with the limit)' }),
    memoryPressure: new Gauge({ ...r, name: 'engram_memory_pressure', help: '1 while new observations are refused for memory, else 0' }),
    memoryReturned: new Counter({ ...r, name: 'engram_memory_returned_bytes_total', help: 'Resident memory handed back to the kernel by heap trims (run near the memory limit, before refusing)' }),
    placementGeneration: new Gauge({ ...r, name: 'engram_placement_generation', help: 'Generation of the placement of memory spaces over the stream\'s pods this engine routes by (0 = stand-alone)' }),
    spacesOwned: new Gauge({ ...r, name: 'engram_placement_spaces_owned', help: 'Memory spaces this engine holds and owns (held but not owned: copies being handed over)', labelNames: ['owned'] }),
    forwarded: new Counter({ ...r, name: 'engram_forwarded_requests_total', help: 'Requests for a memory space another pod owns, passed on to it, by method and result', labelNames: ['grpc_method', 'result'] }),
    handoffs: new Counter({ ...r, name: 'engram_handoffs_total', help: 'Memory space hand-offs this engine took in, by result (verified, failed)', labelNames: ['result'] }),
    handoffsActive: new Gauge({ ...r, name: 'engram_handoffs_active', help: 'Hand-offs running, as source (export) or target (import)', labelNames: ['role'] }),
    handoffFailures: new Counter({ ...r, name: 'engram_handoff_failures_total', help: 'Hand-offs that broke off, by this engine\'s role', labelNames: ['role'] }),
    handoffBytes: new Counter({ ...r, name: 'engram_handoff_snapshot_bytes_total', help: 'Index snapshot bytes sent to new owners of memory spaces' }),
    handoffRecords: new Counter({ ...r, name: 'engram_handoff_records_total', help: 'Log records received from old owners after their snapshot' }),
    handoffDuration: new Histogram({ ...r, name: 'engram_handoff_duration_seconds', help: 'Time from the start of an import to its verified copy', buckets: LATENCY_BUCKETS }),
    handoffWritePause: new Histogram({ ...r, name: 'engram_handoff_write_pause_seconds', help: 'Time writes to a space were refused during its hand-off (fence to verified copy; the flip adds the operator\'s push)', buckets: LATENCY_BUCKETS }),
    grpcStarted: new Counter({ ...r, name: 'grpc_server_started_total', help: 'RPCs started', labelNames: ['grpc_service', 'grpc_method', 'grpc_type'] }),
    grpcHandled: new Counter({ ...r, name: 'grpc_server_handled_total', help: 'RPCs completed, by status code', labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'] }),
    grpcHandling: new Histogram({ ...r, name: 'grpc_server_handling_seconds', help: 'RPC duration until the server answered', labelNames: ['grpc_service', 'grpc_method', 'grpc_type'], buckets: LATENCY_BUCKETS }),
  };
}

export type EngineMetrics = ReturnType<typeof createEngineMetrics>;
