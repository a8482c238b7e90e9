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
  private readonly moves: Gauge<StreamLabels | 'state'>;
  private readonly oldestMove: Gauge<StreamLabels>;
  private readonly placementGeneration: Gauge<StreamLabels>;
  private readonly rolloutStep: Gauge<StreamLabels>;
  private readonly canaryWeight: Gauge<StreamLabels | 'kind'>;
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
    this.moves = new Gauge({
      name: 'engram_operator_stream_space_moves', registers, labelNames: ['namespace', 'engramstream', 'state'],
      help: 'Memory spaces of an EngramStream being handed to another pod (in_progress) or waiting to be (pending)',
    });
    this.oldestMove = new Gauge({
      name: 'engram_operator_stream_oldest_move_seconds', registers, labelNames: ['namespace', 'engramstream'],
      help: 'Age of the oldest hand-off in progress (0 when none runs): a stuck hand-off keeps growing it',
    });
    this.placementGeneration = new Gauge({
      name: 'engram_operator_stream_placement_generation', registers, labelNames: ['namespace', 'engramstream'],
      help: 'Generation of the placement of memory spaces over the stream\'s pods, as stored by the operator',
    });
    this.rolloutStep = new Gauge({
      name: 'engram_operator_stream_rollout_step', registers, labelNames: ['namespace', 'engramstream'],
      help: 'Step of the canary rollout running now (0-based; the number of steps once all are done)',
    });
    this.canaryWeight = new Gauge({
      name: 'engram_operator_stream_canary_weight_percent', registers, labelNames: ['namespace', 'engramstream', 'kind'],
      help: 'Canary weight in percent: requested by the steps, and actual (share of memory spaces on canary pods)',
    });
  }

  record(namespace: string, name: string, status: EngramStreamStatus, now = Date.now()): void {
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
    const placement = status.placement;
    this.moves.set({ ...labels, state: 'in_progress' }, placement?.movesInProgress ?? 0);
    this.moves.set({ ...labels, state: 'pending' }, placement?.movesPending ?? 0);
    const started = (placement?.moves ?? []).map((m) => Date.parse(m.startedAt)).filter((t) => Number.isFinite(t));
    this.oldestMove.set(labels, started.length > 0 ? Math.max(0, (now - Math.min(...started)) / 1000) : 0);
    if (placement) this.placementGeneration.set(labels, placement.generation);
    const rollout = status.rollout;
    if (rollout) {
      this.rolloutStep.set(labels, rollout.stepIndex);
      this.canaryWeight.set({ ...labels, kind: 'requested' }, rollout.requestedWeight);
      this.canaryWeight.set({ ...labels, kind: 'actual' }, rollout.actualWeight.percent);
    }
  }

  /** The stream is gone: its series go too. */
  forget(namespace: string, name: string): void {
    const labels = { namespace, engramstream: name };
    for (const type of Object.values(ConditionType)) this.condition.remove({ ...labels, type });
    for (const state of ['desired', 'ready', 'config_applied']) this.pods.remove({ ...labels, state });
    for (const state of ['in_progress', 'pending']) this.moves.remove({ ...labels, state });
    this.oldestMove.remove(labels);
    this.placementGeneration.remove(labels);
    this.rolloutStep.remove(labels);
    for (const kind of ['requested', 'actual']) this.canaryWeight.remove({ ...labels, kind });
    const hash = this.hashes.get(`${namespace}/${name}`);
    if (hash) this.desiredConfig.remove({ ...labels, config_hash: hash });
    this.hashes.delete(`${namespace}/${name}`);
  }
}
