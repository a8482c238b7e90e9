#!/usr/bin/env node
// engram-operator: reconciles EngramStream resources into engine workloads.
import { existsSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { jsonLogger } from '@engram/engine/log';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { CHART_HOOKS, runChartHook } from './chart-hooks/run.js';
import { EngramStreamController } from './controllers/engram-stream/controller.js';
import { StreamMetrics } from './controllers/engram-stream/stream-metrics.js';
import { FIELD_MANAGER } from './controllers/engram-stream/names.js';
import { ControllerMetrics } from './runtime/controller-metrics.js';
import { ApiEventRecorder } from './runtime/event-recorder.js';
import { DEFAULT_LEASE_TIMING } from './runtime/leader-election.js';
import { Manager } from './runtime/manager.js';

// `engram-operator chart-test|stop-for-uninstall …`: the chart's Helm hooks, not the operator.
const hook = CHART_HOOKS.find((h) => h === process.argv[2]);
if (hook) process.exit(await runChartHook(hook, process.argv.slice(3)));

const USAGE = `usage: engram-operator [flags]
  --kubeconfig FILE              (default: $KUBECONFIG, else in-cluster)
  --namespace NS                 watch one namespace (default: all)
  --engine-image IMAGE           engine image for EngramStreams that name none (default engram.io/engine:0.1.0)
  --health-host 0.0.0.0 --health-port 8080   /healthz, /readyz, /metrics
  --leader-elect true|false      (default true) --leader-election-namespace NS (default $POD_NAMESPACE or default)
  --leader-election-id engram-operator  --lease-duration-ms 15000 --renew-deadline-ms 10000 --retry-period-ms 2000
  --identity ID                  (default: hostname_pid)
  --concurrency 2                concurrent reconciles
  --relist-interval-ms 600000    full relist (and resync) of every watched kind
  --shutdown-deadline-ms 10000
       engram-operator chart-test | stop-for-uninstall …   the Helm chart's test and pre-delete hook
`;

/** The flags; an unknown or malformed one is named with the usage (exit 2), not thrown as a stack trace. */
function parseFlags() {
  try {
    return parseArgs({
      options: {
        kubeconfig: { type: 'string' }, namespace: { type: 'string' }, 'engine-image': { type: 'string', default: 'engram.io/engine:0.1.0' },
        'health-host': { type: 'string', default: '0.0.0.0' }, 'health-port': { type: 'string', default: '8080' },
        'leader-elect': { type: 'string', default: 'true' }, 'leader-election-namespace': { type: 'string' },
        'leader-election-id': { type: 'string', default: 'engram-operator' },
        'lease-duration-ms': { type: 'string', default: String(DEFAULT_LEASE_TIMING.leaseDurationMs) },
        'renew-deadline-ms': { type: 'string', default: String(DEFAULT_LEASE_TIMING.renewDeadlineMs) },
        'retry-period-ms': { type: 'string', default: String(DEFAULT_LEASE_TIMING.retryPeriodMs) },
        identity: { type: 'string' }, concurrency: { type: 'string', default: '2' },
        'relist-interval-ms': { type: 'string', default: '600000' }, 'shutdown-deadline-ms': { type: 'string', default: '10000' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }).values;
  } catch (e) {
    process.stderr.write(`engram-operator: ${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
    process.exit(2);
  }
}
const f = parseFlags();

if (f.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

function int(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`engram-operator: --${name} must be a non-negative integer, got '${value}'\n\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

/**
 * Where the cluster is, as controller-runtime looks: --kubeconfig, $KUBECONFIG, the pod's service
 * account, ~/.kube/config. client-node alone would fall back to http://localhost:8080 and retry
 * there forever; with none of these the operator says so and exits.
 */
function loadKubeConfig(flag: string | undefined): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (flag) {
    kc.loadFromFile(flag);
  } else if (process.env.KUBECONFIG || process.env.KUBERNETES_SERVICE_HOST || existsSync(join(homedir(), '.kube', 'config'))) {
    kc.loadFromDefault();
  } else {
    process.stderr.write('engram-operator: no cluster to talk to: pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account\n');
    process.exit(2);
  }
  return kc;
}

const log = jsonLogger('operator');
const kc = loadKubeConfig(f.kubeconfig);

const registry = new Registry();
collectDefaultMetrics({ register: registry });
const identity = f.identity ?? `${hostname()}_${process.pid}`;
const manager = new Manager({
  kc, log, registry, healthHost: f['health-host'], healthPort: int('health-port', f['health-port']),
  shutdownDeadlineMs: int('shutdown-deadline-ms', f['shutdown-deadline-ms']),
  leaderElection: f['leader-elect'] === 'false' ? null : {
    namespace: f['leader-election-namespace'] ?? process.env.POD_NAMESPACE ?? 'default', name: f['leader-election-id'], identity,
    leaseDurationMs: int('lease-duration-ms', f['lease-duration-ms']), renewDeadlineMs: int('renew-deadline-ms', f['renew-deadline-ms']),
    retryPeriodMs: int('retry-period-ms', f['retry-period-ms']),
  },
  onLostLeadership: () => {
    log.error('leadership lost; exiting so a fresh process campaigns again');
    process.exit(1);
  },
});
manager.add(new EngramStreamController({
  kc, ...(f.namespace ? { namespace: f.namespace } : {}), defaultImage: f['engine-image'], concurrency: int('concurrency', f.concurrency),
  relistIntervalMs: int('relist-interval-ms', f['relist-interval-ms']), metrics: new ControllerMetrics(registry),
  streamMetrics: new StreamMetrics(registry),
  recorder: new ApiEventRecorder(kc, FIELD_MANAGER, log), log,
}));

let stopping = false;
const stop = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  log.info('signal received; shutting down', { signal });
  manager.stop().then(() => process.exit(0), (e: unknown) => {
    log.error('shutdown failed', { error: String(e) });
    process.exit(1);
  });
};
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));

manager.start().then(() => log.info('operator started', { identity, port: manager.port }), (e: unknown) => {
  log.error('operator failed to start', { error: String(e) });
  process.exit(1);
});
