// Controller and work-queue metrics under controller-runtime's names, so dashboards and alerts
// written for Go operators work unchanged. One registry, passed in (never the global one).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

interface Settable { set(value: number): void }
interface Incrementable { inc(): void }
interface Observable { observe(value: number): void }

/** What a work queue records; one controller's children of the shared metrics. */
export interface WorkQueueMetrics {
  depth: Settable;
  adds: Incrementable;
  queueDuration: Observable;
  workDuration: Observable;
  unfinishedWork: Settable;
  longestRunning: Settable;
  retries: Incrementable;
}

export interface ReconcileMetrics {
  total: Counter<'controller' | 'result'>;
  errors: Counter<'controller'>;
  time: Histogram<'controller'>;
  activeWorkers: Gauge<'controller'>;
  maxConcurrent: Gauge<'controller'>;
}

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Metrics shared by every controller of one operator process, labelled by controller. */
export class ControllerMetrics {
  readonly reconcile: ReconcileMetrics;
  private readonly queue: {
    depth: Gauge<'name' | 'controller'>; adds: Counter<'name' | 'controller'>; queueDuration: Histogram<'name' | 'controller'>;
    workDuration: Histogram<'name' | 'controller'>; unfinishedWork: Gauge<'name' | 'controller'>;
    longestRunning: Gauge<'name' | 'controller'>; retries: Counter<'name' | 'controller'>;
  };

  constructor(registry: Registry) {
    const registers = [registry];
    this.reconcile = {
      total: new Counter({ name: 'controller_runtime_reconcile_total', help: 'Total number of reconciliations per controller', labelNames: ['controller', 'result'], registers }),
      errors: new Counter({ name: 'controller_runtime_reconcile_errors_total', help: 'Total number of reconciliation errors per controller', labelNames: ['controller'], registers }),
      time: new Histogram({ name: 'controller_runtime_reconcile_time_seconds', help: 'Length of time per reconciliation per controller', labelNames: ['controller'], buckets: DURATION_BUCKETS, registers }),
      activeWorkers: new Gauge({ name: 'controller_runtime_active_workers', help: 'Number of currently used workers per controller', labelNames: ['controller'], registers }),
      maxConcurrent: new Gauge({ name: 'controller_runtime_max_concurrent_reconciles', help: 'Maximum number of concurrent reconciles per controller', labelNames: ['controller'], registers }),
    };
    const labelNames = ['name', 'controller'] as const;
    this.queue = {
      depth: new Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames, registers }),
      adds: new Counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames, registers }),
      queueDuration: new Histogram({ name: 'workqueue_queue_duration_seconds', help: 'How long in seconds an item stays in workqueue before being requested', labelNames, buckets: DURATION_BUCKETS, registers }),
      workDuration: new Histogram({ name: 'workqueue_work_duration_seconds', help: 'How long in seconds processing an item from workqueue takes', labelNames, buckets: DURATION_BUCKETS, registers }),
      unfinishedWork: new Gauge({ name: 'workqueue_unfinished_work_seconds', help: 'How many seconds of work has been done that is in progress and hasn\'t been observed by work_duration', labelNames, registers }),
      longestRunning: new Gauge({ name: 'workqueue_longest_running_processor_seconds', help: 'How many seconds has the longest running processor for workqueue been running', labelNames, registers }),
      retries: new Counter({ name: 'workqueue_retries_total', help: 'Total number of retries handled by workqueue', labelNames, registers }),
    };
  }

  /** The work-queue metrics of one controller's queue. */
  forQueue(controller: string): WorkQueueMetrics {
    const labels = { name: controller, controller };
    const retries = this.queue.retries.labels(labels);
    retries.inc(0); // exists at 0 before the first retry, so rate() sees it
    return {
      depth: this.queue.depth.labels(labels),
      adds: this.queue.adds.labels(labels),
      queueDuration: this.queue.queueDuration.labels(labels),
      workDuration: this.queue.workDuration.labels(labels),
      unfinishedWork: this.queue.unfinishedWork.labels(labels),
      longestRunning: this.queue.longestRunning.labels(labels),
      retries,
    };
  }
}
