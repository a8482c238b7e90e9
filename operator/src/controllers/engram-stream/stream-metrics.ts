// Per-EngramStream gauges, kube-state-metrics style: the stream's conditions and the config hash
// its spec resolves to, so alerts ("config not converged") and dashboards ("config applied per
// pod") need no access to the API. Labelled `namespace` and `engramstream` like the engines'
// series (the operator's scrape keeps them: honorLabels). One series set per stream, removed when
// the stream goes: cardinality follows the number of streams.
import { Gauge, type Registry } from 'prom-client';
import type { EngramStreamStatus } from '../../api/v1alpha1/types.js';
import { ConditionType } from '../../api/v1alpha1/conditions.js';

type StreamLabels = 'namespace' | 'engramstream';

export class StreamMetrics {
  private readonly condition: Gauge<StreamLabels | 'type'>;
  private readonly desiredConfig: Gauge<StreamLabels | 'config_hash'>;
  private readonly pods: Gauge<StreamLabels | 'state'>;
  /** The hash last exported per stream, to drop its series when it changes. */
  private readonly hashes = new Map<string, string>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.condition = new Gauge({
      name: 'engram_operator_stream_condition', registers, labelNames: ['namespace', 'engramstream', 'type'],
      help: 'An EngramStream condition: 1 if its status is True, else 0',
    });
    this.desiredConfig = new Gauge({
      name: 'engram_operator_stream_desired_config_info', registers, labelNames: ['namespace', 'engramstream', 'config_hash'],
      help: 'The engine config hash an EngramStream\'s spec resolves to (value 1)',
    });
    this.pods = new Gauge({
      name: 'engram_operator_stream_pods', registers, labelNames: ['namespace', 'engramstream', 'state'],
      help: 'Engine pods of an EngramStream: desired, ready, and config_applied (ready and running the desired config)',
    });
  }

  record(namespace: string, name: string, status: EngramStreamStatus): void {
    const labels = { namespace, engramstream: name };
    for (const type of Object.values(ConditionType)) {
      const condition = status.conditions?.find((c) => c.type === type);
      this.condition.set({ ...labels, type }, condition?.status === 'True' ? 1 : 0);
    }
    const key = `${namespace}/${name}`;
    const previous = this.hashes.get(key);
    const hash = status.desiredConfigHash;
    if (previous !== undefined && previous !== hash) this.desiredConfig.remove({ ...labels, config_hash: previous });
    if (hash) {
      this.desiredConfig.set({ ...labels, config_hash: hash }, 1);
      this.hashes.set(key, hash);
    } else {
      this.hashes.delete(key);
    }
    this.pods.set({ ...labels, state: 'desired' }, status.replicas ?? 0);
    this.pods.set({ ...labels, state: 'ready' }, status.readyReplicas ?? 0);
    this.pods.set({ ...labels, state: 'config_applied' }, (status.pods ?? []).filter((p) => p.ready && hash !== undefined && p.configHash === hash).length);
  }

  /** The stream is gone: its series go too. */
  forget(namespace: string, name: string): void {
    const labels = { namespace, engramstream: name };
    for (const type of Object.values(ConditionType)) this.condition.remove({ ...labels, type });
    for (const state of ['desired', 'ready', 'config_applied']) this.pods.remove({ ...labels, state });
    const hash = this.hashes.get(`${namespace}/${name}`);
    if (hash) this.desiredConfig.remove({ ...labels, config_hash: hash });
    this.hashes.delete(`${namespace}/${name}`);
  }
}
