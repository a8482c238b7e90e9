#!/usr/bin/env node
// Writes the Grafana dashboards (charts/engram-operator/files/dashboards/*.json) from the panel
// lists below: one place that says what each panel shows and asks. A test keeps the JSON files
// equal to this script's output and checks every metric a query names is one the code exports.
//   node scripts/generate-dashboards.mjs          write the files
//   node scripts/generate-dashboards.mjs --check  exit 1 if a file differs
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'charts', 'engram-operator', 'files', 'dashboards');
const RATE = '$__rate_interval';
/** Engine series of the chosen streams and pods (labels from the ServiceMonitor's scrape). */
const ENGINE = 'namespace=~"$namespace", engramstream=~"$engramstream", pod=~"$pod"';
const STREAMS = 'namespace=~"$namespace", engramstream=~"$engramstream"';

const q = (expr, legend = '', extra = {}) => ({ expr, legend, ...extra });
const quantiles = (metric, by = '', sel = ENGINE) => [0.5, 0.99, 0.999].map((p) =>
  q(`histogram_quantile(${p}, sum by (le${by ? `, ${by}` : ''}) (rate(${metric}_bucket{${sel}}[${RATE}])))`, `P${p * 100}${by ? ` {{${by}}}` : ''}`));

function variables(streamMetric) {
  const query = (name, label, expr) => ({
    name, label, type: 'query', datasource: { type: 'prometheus', uid: '${datasource}' },
    query: { query: `label_values(${expr}, ${name})`, refId: `${name}-var` }, definition: `label_values(${expr}, ${name})`,
    refresh: 2, includeAll: true, multi: true, allValue: '.*', current: { text: 'All', value: '$__all' }, sort: 1,
  });
  return [
    { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, refresh: 1 },
    query('namespace', 'Namespace', streamMetric),
    query('engramstream', 'EngramStream', `${streamMetric}{namespace=~"$namespace"}`),
    query('pod', 'Pod', `${streamMetric}{namespace=~"$namespace", engramstream=~"$engramstream"}`),
  ];
}

/** Panels laid out two per row (w 12) unless they ask for the full width. */
function layout(sections) {
  const panels = [];
  let id = 1;
  let y = 0;
  for (const section of sections) {
    panels.push({ id: id++, type: 'row', title: section.row, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y: y++ }, panels: [] });
    let x = 0;
    for (const p of section.panels) {
      const w = p.width ?? 12;
      const h = p.height ?? 8;
      if (x + w > 24) {
        x = 0;
        y += 8;
      }
      panels.push(panel(id++, p, { h, w, x, y }));
      x += w;
    }
    y += 8;
  }
  return panels;
}

function panel(id, p, gridPos) {
  const base = {
    id, type: p.type ?? 'timeseries', title: p.title, description: p.description, gridPos,
    datasource: { type: 'prometheus', uid: '${datasource}' },
  };
  if (p.type === 'text') return { ...base, datasource: undefined, options: { mode: 'markdown', content: p.content } };
  const targets = p.queries.map((t, i) => ({
    refId: String.fromCharCode(65 + i), expr: t.expr, legendFormat: t.legend, range: p.type !== 'table', instant: p.type === 'table',
    ...(p.type === 'heatmap' ? { format: 'heatmap' } : {}), ...(p.type === 'table' ? { format: 'table' } : {}),
  }));
  const unit = p.unit ?? 'short';
  const fieldConfig = { defaults: { unit, ...(p.max !== undefined ? { max: p.max, min: 0 } : {}) }, overrides: [] };
  const options = p.type === 'heatmap'
    ? { calculate: false, yAxis: { unit: p.yUnit ?? 'short' }, color: { scheme: 'Oranges', mode: 'scheme' }, cellGap: 1 }
    : p.type === 'stat' ? { reduceOptions: { calcs: ['lastNotNull'] }, colorMode: 'value' }
      : p.type === 'table' ? { showHeader: true }
        : p.type === 'state-timeline' ? { showValue: 'auto', mergeValues: true }
          : { legend: { displayMode: 'table', placement: 'bottom', calcs: ['lastNotNull', 'max'] }, tooltip: { mode: 'multi' } };
  return { ...base, targets, fieldConfig, options };
}

function dashboard({ uid, title, description, streamMetric, sections }) {
  return {
    uid, title, description, tags: ['engram-stream'], editable: true, graphTooltip: 1, schemaVersion: 39, version: 1,
    time: { from: 'now-1h', to: 'now' }, refresh: '30s', timezone: 'browser',
    templating: { list: variables(streamMetric) }, annotations: { list: [] },
    links: [{ title: 'Engram Stream', type: 'dashboards', tags: ['engram-stream'], asDropdown: true }],
    panels: layout(sections),
  };
}

const streaming = dashboard({
  uid: 'engram-streaming', title: 'Engram Stream / Streaming',
  description: 'Ingest, queues, workers, latency and backpressure of Engram Stream engines (the streaming tuning guide\'s panels).',
  streamMetric: 'engram_streaming_workers',
  sections: [
    { row: 'Overview', panels: [
      { type: 'stat', width: 6, height: 4, title: 'Accepted observations/s', unit: 'ops', queries: [q(`sum(rate(engram_streaming_observations_total{${ENGINE}}[${RATE}]))`)] },
      { type: 'stat', width: 6, height: 4, title: 'Open observation streams', queries: [q(`sum(engram_streaming_active_sessions_total{${ENGINE}})`)] },
      { type: 'stat', width: 6, height: 4, title: 'Worker threads', queries: [q(`sum(engram_streaming_workers{${ENGINE}})`)] },
      { type: 'stat', width: 6, height: 4, title: 'Vectors stored', queries: [q(`sum(engram_index_vectors{${ENGINE}})`)] },
    ] },
    { row: 'Ingest', panels: [
      { title: 'Observation rate by space', description: 'Accepted (acknowledged) and indexed (searchable) per second.', unit: 'ops', queries: [
        q(`sum by (memory_space) (rate(engram_streaming_observations_total{${ENGINE}}[${RATE}]))`, '{{memory_space}} accepted'),
        q(`sum by (memory_space) (rate(engram_streaming_observations_indexed_total{${ENGINE}}[${RATE}]))`, '{{memory_space}} indexed'),
      ] },
      { title: 'Queue depth by priority', description: 'normal = observations queued; high = recalls in flight. Dashed: capacity.', queries: [
        q(`sum by (priority) (engram_streaming_queue_depth{${ENGINE}})`, '{{priority}}'),
        q(`sum by (priority) (engram_streaming_queue_capacity{${ENGINE}})`, '{{priority}} capacity'),
      ] },
      { title: 'Observation latency P50 / P99 / P99.9', description: 'From acceptance to searchable.', unit: 's', queries: quantiles('engram_streaming_observation_latency_seconds') },
      { title: 'Queue wait P99 by lane', unit: 's', queries: [
        q(`histogram_quantile(0.99, sum by (le, priority) (rate(engram_streaming_queue_wait_time_seconds_bucket{${ENGINE}}[${RATE}])))`, '{{priority}}'),
      ] },
    ] },
    { row: 'Workers', panels: [
      { type: 'heatmap', title: 'Worker utilisation', description: 'Share of each second a worker spends indexing or recalling, one row per worker.', max: 1, unit: 'percentunit', queries: [
        q(`max by (pod, worker_id) (engram_streaming_worker_utilization{${ENGINE}})`, '{{pod}} w{{worker_id}}'),
      ] },
      { title: 'Batches per second by worker', unit: 'ops', queries: [
        q(`sum by (worker_id) (rate(engram_streaming_batches_processed_total{${ENGINE}}[${RATE}]))`, 'worker {{worker_id}}'),
      ] },
      { type: 'heatmap', title: 'Batch size distribution', description: 'Adaptive batching: batches grow with queue depth.', queries: [
        q(`sum by (le) (increase(engram_streaming_batch_size_bucket{${ENGINE}}[${RATE}]))`, '{{le}}'),
      ] },
      { title: 'Work stealing', description: 'Memory spaces an idle worker took over, per second, by the taking worker.', unit: 'ops', queries: [
        q(`sum by (worker_id) (rate(engram_streaming_work_stolen_total{${ENGINE}}[${RATE}]))`, 'worker {{worker_id}}'),
      ] },
    ] },
    { row: 'Backpressure', panels: [
      { title: 'Backpressure events', description: 'Times sessions were told pressure rose to a level.', unit: 'ops', queries: [
        q(`sum by (memory_space, level) (rate(engram_streaming_backpressure_activations_total{${ENGINE}}[${RATE}]))`, '{{memory_space}} {{level}}'),
      ] },
      { type: 'state-timeline', title: 'Backpressure state', description: '0 normal, 1 warning, 2 critical, 3 overloaded.', queries: [
        q(`max by (memory_space) (engram_streaming_backpressure_state{${ENGINE}})`, '{{memory_space}}'),
      ] },
    ] },
    { row: 'Recall', panels: [
      { title: 'Recall latency P50 / P99 / P99.9', unit: 's', queries: quantiles('engram_streaming_recall_latency_seconds') },
      { title: 'RPCs by method and code', unit: 'ops', queries: [
        q(`sum by (grpc_method, grpc_code) (rate(grpc_server_handled_total{${ENGINE}}[${RATE}]))`, '{{grpc_method}} {{grpc_code}}'),
      ] },
    ] },
    { row: 'Errors', panels: [
      { title: 'Rejections by reason', description: 'Observations refused (never accepted; clients resend).', unit: 'ops', queries: [
        q(`sum by (reason) (rate(engram_streaming_observations_rejected_total{${ENGINE}}[${RATE}]))`, '{{reason}}'),
      ] },
      { title: 'Batch insertion failures and worker restarts', unit: 'short', queries: [
        q(`sum by (error_type) (increase(engram_streaming_batch_failures_total{${ENGINE}}[${RATE}]))`, 'failed inserts {{error_type}}'),
        q(`sum by (worker_id) (increase(engram_streaming_worker_restarts_total{${ENGINE}}[${RATE}]))`, 'restarts worker {{worker_id}}'),
      ] },
      { title: 'Memory: queued observations and guard', unit: 'bytes', queries: [
        q(`sum by (pod) (engram_streaming_queue_memory_bytes{${ENGINE}})`, '{{pod}} queued'),
        q(`sum by (pod) (engram_memory_projected_bytes{${ENGINE}})`, '{{pod}} projected'),
        q(`sum by (pod) (engram_memory_limit_bytes{${ENGINE}})`, '{{pod}} limit'),
      ] },
      { title: 'Write-ahead log writable', description: '0: the data volume is full or unwritable and observations are refused.', max: 1, queries: [
        q(`min by (pod) (engram_wal_writable{${ENGINE}})`, '{{pod}}'),
      ] },
    ] },
    { row: 'Scale-out and hand-offs', panels: [
      { title: 'Memory spaces owned per pod', description: 'Spaces each engine owns under the placement; copies held for hand-offs are dashed.', queries: [
        q(`sum by (pod) (engram_placement_spaces_owned{${ENGINE}, owned="true"})`, '{{pod}} owned'),
        q(`sum by (pod) (engram_placement_spaces_owned{${ENGINE}, owned="false"})`, '{{pod}} copies'),
      ] },
      { title: 'Forwarded requests by method', description: 'Requests for a space another pod owns, passed on to it (clients that route by themselves send none).', unit: 'ops', queries: [
        q(`sum by (grpc_method, result) (rate(engram_forwarded_requests_total{${ENGINE}}[${RATE}]))`, '{{grpc_method}} {{result}}'),
      ] },
      { title: 'Hand-offs by result', description: 'Imports of memory spaces that ended with a verified copy, or failed (and start over).', unit: 'short', queries: [
        q(`sum by (result) (increase(engram_handoffs_total{${ENGINE}}[${RATE}]))`, '{{result}}'),
        q(`sum by (role) (engram_handoffs_active{${ENGINE}})`, 'active as {{role}}'),
      ] },
      { title: 'Hand-off time and write pause P99', description: 'Import start to verified copy; fence to verified copy (writes to the space are refused, retryably, meanwhile).', unit: 's', queries: [
        q(`histogram_quantile(0.99, sum by (le) (rate(engram_handoff_duration_seconds_bucket{${ENGINE}}[${RATE}])))`, 'hand-off'),
        q(`histogram_quantile(0.99, sum by (le) (rate(engram_handoff_write_pause_seconds_bucket{${ENGINE}}[${RATE}])))`, 'write pause'),
      ] },
      { title: 'Hand-off traffic', description: 'Snapshot bytes sent by old owners, log records received by new ones.', queries: [
        q(`sum(rate(engram_handoff_snapshot_bytes_total{${ENGINE}}[${RATE}]))`, 'snapshot bytes/s'),
        q(`sum(rate(engram_handoff_records_total{${ENGINE}}[${RATE}]))`, 'records/s'),
      ] },
      { title: 'Placement generation per pod', description: 'Pods on an older generation than the others have not taken the latest placement yet.', queries: [
        q(`max by (pod) (engram_placement_generation{${ENGINE}})`, '{{pod}}'),
      ] },
    ] },
    { row: 'Canary rollout: stable and canary side by side', panels: [
      { title: 'Observation latency P99 by track', description: 'Accepted to searchable. During a rollout canary pods serve a cohort of memory spaces with the new version (track="canary"); the rest is stable.', unit: 's', queries: [
        q(`histogram_quantile(0.99, sum by (le, track) (rate(engram_streaming_observation_latency_seconds_bucket{${ENGINE}}[${RATE}])))`, '{{track}}'),
      ] },
      { title: 'Recall latency P99 by track', unit: 's', queries: [
        q(`histogram_quantile(0.99, sum by (le, track) (rate(engram_streaming_recall_latency_seconds_bucket{${ENGINE}}[${RATE}])))`, '{{track}}'),
      ] },
      { title: 'Recall@k by track', description: 'Sampled recalls checked against an exact search of the same space (quality.sampleRate): what the recall gate of an analysis measures.', unit: 'percentunit', queries: [
        q(`sum by (track) (rate(engram_recall_quality_hits_total{${ENGINE}}[${RATE}])) / sum by (track) (rate(engram_recall_quality_expected_total{${ENGINE}}[${RATE}]))`, '{{track}}'),
      ] },
      { title: 'Observations/s and rejections by track', description: 'The canary\'s share of traffic, and of refusals.', unit: 'ops', queries: [
        q(`sum by (track) (rate(engram_streaming_observations_total{${ENGINE}}[${RATE}]))`, '{{track}} accepted'),
        q(`sum by (track) (rate(engram_streaming_observations_rejected_total{${ENGINE}}[${RATE}]))`, '{{track}} rejected'),
      ] },
      { title: 'Memory spaces by track', description: 'Owned memory spaces on stable and canary pods: the rollout\'s actual weight.', queries: [
        q(`sum by (track) (engram_placement_spaces_owned{${ENGINE}, owned="true"})`, '{{track}}'),
      ] },
      { title: 'Server error ratio by track', description: 'RPCs answered UNKNOWN, INTERNAL, DATA_LOSS, UNIMPLEMENTED or DEADLINE_EXCEEDED, over all (the errorRate of an analysis).', unit: 'percentunit', queries: [
        q(`(sum by (track) (rate(grpc_server_handled_total{${ENGINE}, grpc_code=~"UNKNOWN|INTERNAL|DATA_LOSS|UNIMPLEMENTED|DEADLINE_EXCEEDED"}[${RATE}])) or 0 * sum by (track) (rate(grpc_server_handled_total{${ENGINE}}[${RATE}]))) / sum by (track) (rate(grpc_server_handled_total{${ENGINE}}[${RATE}]))`, '{{track}}'),
      ] },
    ] },
  ],
});

const tenants = dashboard({
  uid: 'engram-tenants', title: 'Engram Stream / Tenants',
  description: 'Per-tenant ingest, limits and rejections. Tenants come from the EngramStream spec: cardinality is bounded by configuration.',
  streamMetric: 'engram_tenant_vectors',
  sections: [
    { row: 'Tenants', panels: [
      { title: 'Accepted observations/s by tenant', unit: 'ops', queries: [
        q(`sum by (tenant) (rate(engram_tenant_observations_total{${ENGINE}}[${RATE}]))`, '{{tenant}}'),
      ] },
      { title: 'Rate-limit use', description: 'Accepted rate over the tenant\'s rate limit (tenants with a limit).', unit: 'percentunit', queries: [
        q(`sum by (tenant) (rate(engram_tenant_observations_total{${ENGINE}}[${RATE}])) / max by (tenant) (engram_tenant_rate_limit{${ENGINE}} > 0)`, '{{tenant}}'),
      ] },
      { title: 'Held for rate-limit tokens by tenant', description: 'Observations over the tenant\'s rate that waited for its tokens (accepted late, at the rate); what would wait longer is refused as rate_limited.', unit: 'ops', queries: [
        q(`sum by (tenant) (rate(engram_tenant_observations_delayed_total{${ENGINE}}[${RATE}]))`, '{{tenant}}'),
      ] },
      { title: 'Rejections by tenant and reason', unit: 'ops', queries: [
        q(`sum by (tenant, reason) (rate(engram_tenant_observations_rejected_total{${ENGINE}}[${RATE}]))`, '{{tenant}} {{reason}}'),
      ] },
      { title: 'Vector quota use', description: 'Vectors stored over the tenant\'s quota (tenants with a quota).', unit: 'percentunit', queries: [
        q(`max by (tenant) (engram_tenant_vectors{${ENGINE}}) / max by (tenant) (engram_tenant_vector_quota{${ENGINE}} > 0)`, '{{tenant}}'),
      ] },
      { title: 'Vectors stored by tenant', queries: [q(`max by (tenant) (engram_tenant_vectors{${ENGINE}})`, '{{tenant}}')] },
      { type: 'table', title: 'Limits in effect', queries: [
        q(`max by (tenant) (engram_tenant_rate_limit{${ENGINE}})`, 'rate limit'),
        q(`max by (tenant) (engram_tenant_vector_quota{${ENGINE}})`, 'vector quota'),
      ] },
    ] },
  ],
});

const OPERATOR = 'controller="engramstream"';
const operator = dashboard({
  uid: 'engram-operator', title: 'Engram Stream / Operator and rollout',
  description: 'The operator\'s reconcile loop and work queue, and whether each engine pod runs the config its EngramStream asks for.',
  streamMetric: 'engram_config_info',
  sections: [
    { row: 'EngramStreams', panels: [
      { type: 'state-timeline', title: 'Conditions', description: '1: the condition is True.', queries: [
        q(`max by (engramstream, type) (engram_operator_stream_condition{${STREAMS}})`, '{{engramstream}} {{type}}'),
      ] },
      { title: 'Pods: desired, ready, on the desired config', queries: [
        q(`sum by (engramstream, state) (engram_operator_stream_pods{${STREAMS}})`, '{{engramstream}} {{state}}'),
      ] },
      { title: 'Memory space moves', description: 'Hand-offs in progress and waiting, and the age of the oldest (EngramHandoffStuck fires past 10 minutes).', queries: [
        q(`sum by (engramstream, state) (engram_operator_stream_space_moves{${STREAMS}})`, '{{engramstream}} {{state}}'),
        q(`max by (engramstream) (engram_operator_stream_oldest_move_seconds{${STREAMS}})`, '{{engramstream}} oldest (s)'),
      ] },
      { type: 'table', title: 'Config applied per pod', description: 'The config hash each engine reports, and 1 where it is the hash its EngramStream resolves to.', width: 24, queries: [
        q(`max by (engramstream, pod, config_hash, profile) (engram_config_info{${ENGINE}})`, 'reported'),
        q(`max by (engramstream, pod, config_hash) (engram_config_info{${ENGINE}} * on (namespace, engramstream, config_hash) group_left () engram_operator_stream_desired_config_info)`, 'on desired'),
      ] },
    ] },
    { row: 'Reconcile loop', panels: [
      { title: 'Reconciles by result', unit: 'ops', queries: [
        q(`sum by (result) (rate(controller_runtime_reconcile_total{${OPERATOR}}[${RATE}]))`, '{{result}}'),
      ] },
      { title: 'Reconcile errors', unit: 'ops', queries: [
        q(`sum by (pod) (rate(controller_runtime_reconcile_errors_total{${OPERATOR}}[${RATE}]))`, '{{pod}}'),
      ] },
      { title: 'Reconcile time P50 / P99', unit: 's', queries: [0.5, 0.99].map((p) =>
        q(`histogram_quantile(${p}, sum by (le) (rate(controller_runtime_reconcile_time_seconds_bucket{${OPERATOR}}[${RATE}])))`, `P${p * 100}`)) },
      { title: 'Leader', description: '1 on the replica holding the lease.', max: 1, queries: [
        q('max by (pod) (leader_election_master_status)', '{{pod}}'),
      ] },
    ] },
    { row: 'Work queue', panels: [
      { title: 'Depth and adds', queries: [
        q(`sum(workqueue_depth{${OPERATOR}})`, 'depth'),
        q(`sum(rate(workqueue_adds_total{${OPERATOR}}[${RATE}]))`, 'adds/s'),
        q(`sum(rate(workqueue_retries_total{${OPERATOR}}[${RATE}]))`, 'retries/s'),
      ] },
      { title: 'Time in queue and at work P99', unit: 's', queries: [
        q(`histogram_quantile(0.99, sum by (le) (rate(workqueue_queue_duration_seconds_bucket{${OPERATOR}}[${RATE}])))`, 'queued'),
        q(`histogram_quantile(0.99, sum by (le) (rate(workqueue_work_duration_seconds_bucket{${OPERATOR}}[${RATE}])))`, 'work'),
      ] },
    ] },
    { row: 'Rollout', panels: [
      { type: 'text', width: 24, height: 3, title: 'Canary vs stable',
        content: 'Canary rollouts (`spec.rollout`) are reserved in this release; their canary-versus-stable panels join this row when the operator rolls changes out by percentage.' },
    ] },
  ],
});

const files = { 'engram-streaming.json': streaming, 'engram-tenants.json': tenants, 'engram-operator.json': operator };
const check = process.argv.includes('--check');
let differs = false;
for (const [name, board] of Object.entries(files)) {
  const text = `${JSON.stringify(board, null, 2)}\n`;
  const path = join(OUT, name);
  if (check) {
    let current = '';
    try { current = readFileSync(path, 'utf8'); } catch { /* missing */ }
    if (current !== text) {
      differs = true;
      console.error(`${path} is not what scripts/generate-dashboards.mjs writes: run npm run generate:dashboards`);
    }
  } else {
    writeFileSync(path, text);
  }
}
process.exit(differs ? 1 : 0);
