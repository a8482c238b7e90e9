// Where analysis reads its figures, per track over a window: a Prometheus (PromQL over the series
// the engines export, selected by stream and track), or, without one, the engines' own /metrics,
// scraped by the operator and differenced per pod between two scrapes.
import type { RolloutMetric } from '../../../api/v1alpha1/types.js';
import type { TrackValue } from './analysis.js';

export type Track = 'stable' | 'canary';
export type TrackValues = Record<Track, TrackValue>;

export interface MetricSource {
  measure(metric: RolloutMetric, windowMs: number, now: Date): Promise<TrackValues>;
}

/** gRPC codes that mean the engine failed, not the caller (refusals and moves are not errors). */
const SERVER_ERRORS = ['UNKNOWN', 'INTERNAL', 'DATA_LOSS', 'UNIMPLEMENTED', 'DEADLINE_EXCEEDED'];

// ---- Prometheus

interface PromVector { metric: Record<string, string>; value: [number, string] }

export class PrometheusSource implements MetricSource {
  constructor(
    private readonly url: string,
    private readonly stream: { namespace: string; name: string },
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  async measure(metric: RolloutMetric, windowMs: number): Promise<TrackValues> {
    const [stable, canary] = await Promise.all((['stable', 'canary'] as const).map((t) => this.track(metric, Math.max(1, Math.round(windowMs / 1000)), t)));
    return { stable: stable!, canary: canary! };
  }

  private async track(metric: RolloutMetric, seconds: number, track: Track): Promise<TrackValue> {
    const sel = `namespace="${this.stream.namespace}",engramstream="${this.stream.name}",track="${track}"`;
    const inc = (name: string, extra = ''): string => `sum(increase(${name}{${sel}${extra}}[${seconds}s]))`;
    const quantile = (name: string) => [`histogram_quantile(0.99, sum by (le) (increase(${name}_bucket{${sel}}[${seconds}s])))`, inc(`${name}_count`)] as const;
    const [value, samples] = {
      observationLatencyP99: quantile('engram_streaming_observation_latency_seconds'),
      recallLatencyP99: quantile('engram_streaming_recall_latency_seconds'),
      rejectionRate: [`${inc('engram_streaming_observations_rejected_total')} / (${inc('engram_streaming_observations_total')} + ${inc('engram_streaming_observations_rejected_total')})`,
        `${inc('engram_streaming_observations_total')} + ${inc('engram_streaming_observations_rejected_total')}`],
      errorRate: [`${inc('grpc_server_handled_total', `,grpc_code=~"${SERVER_ERRORS.join('|')}"`)} / ${inc('grpc_server_handled_total')}`, inc('grpc_server_handled_total')],
      recallAtK: [`${inc('engram_recall_quality_hits_total')} / ${inc('engram_recall_quality_expected_total')}`, inc('engram_recall_quality_expected_total')],
    }[metric];
    const [v, n] = await Promise.all([this.scalar(value), this.scalar(samples)]);
    return { value: v !== null && Number.isFinite(v) ? v : null, samples: n ?? 0 };
  }

  private async scalar(expr: string): Promise<number | null> {
    const response = await this.fetchImpl(`${this.url.replace(/\/$/, '')}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(5000) });
    const body = await response.json() as { status: string; error?: string; data?: { result: PromVector[] } };
    if (body.status !== 'success') throw new Error(`prometheus: ${body.error ?? response.statusText}`);
    const first = body.data?.result[0];
    return first ? Number(first.value[1]) : null;
  }
}

// ---- the engines' own /metrics

/** What one pod's /metrics says, summed over every label but `le`. */
export interface PodTotals {
  observationLatency: Map<number, number>;
  recallLatency: Map<number, number>;
  observations: number;
  rejected: number;
  rpcs: number;
  rpcErrors: number;
  qualityHits: number;
  qualityExpected: number;
}

export interface PodScrape {
  pod: string;
  uid: string;
  track: Track;
  totals: PodTotals;
}

export interface Scrape {
  at: number;
  pods: PodScrape[];
}

const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;

/** Parses the families analysis needs from Prometheus text format. */
export function parsePodTotals(text: string): PodTotals {
  const totals: PodTotals = { observationLatency: new Map(), recallLatency: new Map(), observations: 0, rejected: 0, rpcs: 0, rpcErrors: 0, qualityHits: 0, qualityExpected: 0 };
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const [, name, labelText = '', raw] = m;
    const value = Number(raw);
    const labels = Object.fromEntries([...labelText.matchAll(LABEL)].map((l) => [l[1], l[2]]));
    const bucket = (map: Map<number, number>): void => {
      const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
      map.set(le, (map.get(le) ?? 0) + value);
    };
    switch (name) {
      case 'engram_streaming_observation_latency_seconds_bucket': bucket(totals.observationLatency); break;
      case 'engram_streaming_recall_latency_seconds_bucket': bucket(totals.recallLatency); break;
      case 'engram_streaming_observations_total': totals.observations += value; break;
      case 'engram_streaming_observations_rejected_total': totals.rejected += value; break;
      case 'grpc_server_handled_total':
        totals.rpcs += value;
        if (SERVER_ERRORS.includes(labels.grpc_code ?? '')) totals.rpcErrors += value;
        break;
      case 'engram_recall_quality_hits_total': totals.qualityHits += value; break;
      case 'engram_recall_quality_expected_total': totals.qualityExpected += value; break;
    }
  }
  return totals;
}

/** Prometheus's histogram_quantile over cumulative buckets (upper bound -> count). */
export function histogramQuantile(q: number, buckets: Map<number, number>): number | null {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let previousBound = 0;
  let previousCount = 0;
  for (const [bound, count] of sorted) {
    if (count >= rank) {
      if (bound === Infinity) return previousBound;
      return previousBound + (bound - previousBound) * ((rank - previousCount) / Math.max(count - previousCount, 1e-12));
    }
    previousBound = bound;
    previousCount = count;
  }
  return previousBound;
}

/** A counter's increase between two readings (a lower reading means the pod restarted). */
const increase = (before: number, after: number): number => (after >= before ? after - before : after);

function difference(before: PodTotals | undefined, after: PodTotals): PodTotals {
  const map = (b: Map<number, number> | undefined, a: Map<number, number>) => new Map([...a].map(([le, v]) => [le, increase(b?.get(le) ?? 0, v)]));
  const scalar = (key: 'observations' | 'rejected' | 'rpcs' | 'rpcErrors' | 'qualityHits' | 'qualityExpected') => increase(before?.[key] ?? 0, after[key]);
  return {
    observationLatency: map(before?.observationLatency, after.observationLatency), recallLatency: map(before?.recallLatency, after.recallLatency),
    observations: scalar('observations'), rejected: scalar('rejected'), rpcs: scalar('rpcs'), rpcErrors: scalar('rpcErrors'),
    qualityHits: scalar('qualityHits'), qualityExpected: scalar('qualityExpected'),
  };
}

function sumMaps(into: Map<number, number>, from: Map<number, number>): void {
  for (const [le, v] of from) into.set(le, (into.get(le) ?? 0) + v);
}

/** What each track did between two scrapes: per pod (same pod and track in both), then summed. */
export function trackIncrease(before: Scrape, after: Scrape): Record<Track, PodTotals> {
  const empty = (): PodTotals => ({ observationLatency: new Map(), recallLatency: new Map(), observations: 0, rejected: 0, rpcs: 0, rpcErrors: 0, qualityHits: 0, qualityExpected: 0 });
  const out: Record<Track, PodTotals> = { stable: empty(), canary: empty() };
  for (const pod of after.pods) {
    const old = before.pods.find((p) => p.uid === pod.uid && p.track === pod.track);
    // A pod new to the track in this window: only what it did after its first scrape counts.
    if (!old) continue;
    const d = difference(old.totals, pod.totals);
    const t = out[pod.track];
    sumMaps(t.observationLatency, d.observationLatency);
    sumMaps(t.recallLatency, d.recallLatency);
    for (const key of ['observations', 'rejected', 'rpcs', 'rpcErrors', 'qualityHits', 'qualityExpected'] as const) t[key] += d[key];
  }
  return out;
}

export function valueOf(metric: RolloutMetric, t: PodTotals): TrackValue {
  const count = (m: Map<number, number>) => m.get(Infinity) ?? 0;
  switch (metric) {
    case 'observationLatencyP99': return { value: histogramQuantile(0.99, t.observationLatency), samples: count(t.observationLatency) };
    case 'recallLatencyP99': return { value: histogramQuantile(0.99, t.recallLatency), samples: count(t.recallLatency) };
    case 'rejectionRate': {
      const n = t.observations + t.rejected;
      return { value: n > 0 ? t.rejected / n : null, samples: n };
    }
    case 'errorRate': return { value: t.rpcs > 0 ? t.rpcErrors / t.rpcs : null, samples: t.rpcs };
    case 'recallAtK': return { value: t.qualityExpected > 0 ? t.qualityHits / t.qualityExpected : null, samples: t.qualityExpected };
  }
}

/**
 * The engines' own figures: the operator keeps the scrapes of the last few minutes (taken once a
 * pass while a rollout runs) and measures a window as the difference of the scrape nearest its
 * start and the newest one.
 */
export class ScrapeHistory implements MetricSource {
  private readonly scrapes: Scrape[] = [];

  constructor(private readonly keepMs = 180_000) {}

  add(scrape: Scrape): void {
    this.scrapes.push(scrape);
    while (this.scrapes.length > 0 && this.scrapes[0]!.at < scrape.at - this.keepMs) this.scrapes.shift();
  }

  get latest(): Scrape | undefined {
    return this.scrapes.at(-1);
  }

  /** The increase per track over about the last `windowMs`, or null without a scrape that old. */
  window(windowMs: number, now: number): Record<Track, PodTotals> | null {
    const latest = this.latest;
    const start = [...this.scrapes].reverse().find((s) => s.at <= now - windowMs);
    if (!latest || !start) return null;
    return trackIncrease(start, latest);
  }

  async measure(metric: RolloutMetric, windowMs: number, now: Date): Promise<TrackValues> {
    // A window is measured once the history covers it: 90% of it, since passes do not fall on the second.
    const w = this.window(windowMs * 0.9, now.getTime());
    if (!w) throw new Error(`the operator has not scraped the engines for ${Math.round(windowMs / 1000)} s yet`);
    return { stable: valueOf(metric, w.stable), canary: valueOf(metric, w.canary) };
  }
}
