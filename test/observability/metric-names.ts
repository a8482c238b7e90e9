// The metric names a dashboard or alert rule asks for, and whether the code exports them.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createEngineMetrics } from '../../engine/dist/metrics/engine-metrics.js';
import { StreamMetrics } from '../../operator/dist/controllers/engram-stream/stream-metrics.js';
import { ControllerMetrics } from '../../operator/dist/runtime/controller-metrics.js';
import { leaderStatusGauge } from '../../operator/dist/runtime/manager.js';
import { REPO_ROOT } from '../operator/operator-harness.js';

export const CHART_FILES = join(REPO_ROOT, 'charts', 'engram-operator', 'files');
/** Prefixes of the families the engine and operator export; label names never start with these. */
const FAMILY_PREFIXES = ['engram_', 'controller_runtime_', 'workqueue_', 'leader_election_', 'grpc_server_', 'process_', 'nodejs_'];
/** Series Prometheus makes itself for every target. */
const SCRAPE_SERIES = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped'];

export interface Dashboard { title: string; panels: Array<{ title: string; type: string; targets?: Array<{ expr: string }> }>; templating: { list: Array<{ name: string; definition?: string }> } }

export function dashboards(): Record<string, Dashboard> {
  const dir = join(CHART_FILES, 'dashboards');
  return Object.fromEntries(readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => [f, JSON.parse(readFileSync(join(dir, f), 'utf8')) as Dashboard]));
}

export interface AlertRule { alert: string; expr: string; for?: string; labels: Record<string, string>; annotations: Record<string, string> }

export function alertRules(): AlertRule[] {
  const file = yaml.load(readFileSync(join(CHART_FILES, 'alerts', 'engram-stream.rules.yaml'), 'utf8')) as { groups: Array<{ rules: AlertRule[] }> };
  return file.groups.flatMap((g) => g.rules);
}

/** Every (panel title, expression) of a dashboard. */
export function panelQueries(board: Dashboard): Array<{ panel: string; expr: string }> {
  return board.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
}

/** Metric names an expression selects (string literals removed first, so label values never count). */
export function metricNames(expr: string): string[] {
  const code = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const tokens = code.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return [...new Set(tokens.filter((t) => SCRAPE_SERIES.includes(t) || FAMILY_PREFIXES.some((p) => t.startsWith(p))))];
}

/** Every series name the engine's and the operator's registries expose (histograms with their suffixes). */
export async function exportedNames(): Promise<Set<string>> {
  const operator = new Registry();
  collectDefaultMetrics({ register: operator });
  new ControllerMetrics(operator);
  new StreamMetrics(operator);
  leaderStatusGauge(operator);
  const names = new Set<string>(SCRAPE_SERIES);
  for (const registry of [createEngineMetrics().registry, operator]) {
    for (const m of await registry.getMetricsAsJSON()) {
      names.add(m.name);
      const type = String(m.type);
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
      if (type === 'summary') for (const s of ['_sum', '_count']) names.add(m.name + s);
    }
  }
  return names;
}

/** The names in `exprs` that are not in `exported`, with where they were found. */
export function unexported(exprs: Array<{ where: string; expr: string }>, exported: Set<string>): string[] {
  return exprs.flatMap(({ where, expr }) => metricNames(expr).filter((n) => !exported.has(n)).map((n) => `${where}: ${n}`));
}
