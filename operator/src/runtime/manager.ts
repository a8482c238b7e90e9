// Runs an operator process: the health and metrics server, the informers (caches fill whether or
// not this replica leads, so a new leader starts warm), leader election, and the controllers, which
// start only while leading. stop() is graceful: controllers finish their passes (up to a
// deadline), the lease is released, the caches and the server close.
import * as k8s from '@kubernetes/client-node';
import { Gauge, type Registry } from 'prom-client';
import type { Server } from 'node:http';
import { startHealthServer } from './health-server.js';
import type { Informer } from './informer.js';
import { LeaderElector, type LeaderElectionOptions } from './leader-election.js';
import type { Logger } from '@engram/engine/log';

export interface Runnable {
  readonly informers: Array<Informer<k8s.KubernetesObject>>;
  start(): void;
  stop(deadlineMs: number): Promise<void>;
}

export interface ManagerOptions {
  kc: k8s.KubeConfig;
  log: Logger;
  registry: Registry;
  healthHost: string;
  healthPort: number;
  /** Null: this process always leads (one replica, or tests). */
  leaderElection: LeaderElectionOptions | null;
  shutdownDeadlineMs: number;
  /** Called when leadership is lost; the process should exit so it restarts clean. */
  onLostLeadership(): void;
}

/** client-go's leader election gauge, under its name: 1 on the replica holding the lease. */
export function leaderStatusGauge(registry: Registry): Gauge<'name'> {
  return new Gauge({ name: 'leader_election_master_status', help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master', labelNames: ['name'], registers: [registry] });
}

export class Manager {
  private readonly runnables: Runnable[] = [];
  private elector: LeaderElector | null = null;
  private server: Server | null = null;
  private started = false;
  port = 0;

  constructor(private readonly options: ManagerOptions) {}

  add(runnable: Runnable): void {
    this.runnables.push(runnable);
  }

  private informers(): Array<Informer<k8s.KubernetesObject>> {
    return this.runnables.flatMap((r) => r.informers);
  }

  async start(): Promise<void> {
    const { options } = this;
    const leaderStatus = leaderStatusGauge(options.registry);
    const health = await startHealthServer(options.healthHost, options.healthPort, options.registry, {
      ready: () => this.informers().every((i) => i.hasSynced()),
    });
    this.server = health.server;
    this.port = health.port;
    options.log.info('health and metrics server listening', { port: this.port });
    await Promise.all(this.informers().map((i) => i.start()));
    options.log.info('caches synced', { informers: this.informers().length });
    const startControllers = (): void => {
      this.started = true;
      for (const r of this.runnables) r.start();
    };
    if (!options.leaderElection) {
      startControllers();
      return;
    }
    this.elector = new LeaderElector(options.kc, options.leaderElection, options.log, leaderStatus);
    this.elector.run({ onStartedLeading: startControllers, onStoppedLeading: options.onLostLeadership });
  }

  async stop(): Promise<void> {
    const deadline = this.options.shutdownDeadlineMs;
    if (this.started) await Promise.all(this.runnables.map((r) => r.stop(deadline)));
    await this.elector?.stop();
    for (const i of this.informers()) i.stop();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
