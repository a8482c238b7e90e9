// The acknowledgement side of indexing: a finished batch's outcome goes to the sessions that
// accepted its observations (as contiguous ranges of their sequence numbers, or one failure per
// observation that could not be indexed), and into the space's record, the totals, the drain rate
// and the metrics. The pool reports every batch here directly.
import { performance } from 'node:perf_hooks';
import type { EngineMetrics } from '../metrics/engine-metrics.js';
import type { BatchOutcome, IndexedBatchSink } from '../pool/worker-pool.js';
import type { DrainRate } from '../queue/drain-rate.js';
import type { IndexSink } from '../queue/ingest-queue.js';
import type { SpaceDirectory } from '../tenancy/space-directory.js';

export interface IndexAcksDeps {
  directory: SpaceDirectory;
  metrics: EngineMetrics;
  drain: DrainRate;
  totals: { indexed: number };
  /** The open sessions, told about pressure after each batch. */
  sessions: Iterable<{ reportPressure(): void }>;
}

export class IndexAcks implements IndexedBatchSink {
  constructor(private readonly deps: IndexAcksDeps) {}

  batchIndexed({ space, items, failures, spaceSize }: BatchOutcome): void {
    const failed = new Map(failures.map((f) => [f.index, f.reason]));
    this.acknowledge(space, items, failed);
    const { directory, metrics, drain, totals } = this.deps;
    const ok = items.length - failed.size;
    const record = directory.get(space);
    if (record) {
      record.indexed = spaceSize;
      record.pending -= items.length;
    }
    totals.indexed += ok;
    drain.record(items.length);
    metrics.indexed.inc({ memory_space: space }, ok);
    metrics.spaceVectors.set({ memory_space: space }, spaceSize);
    // A small queue drains within a tick: tell paused clients at once, or workers go idle.
    for (const session of this.deps.sessions) session.reportPressure();
  }

  /** Tells each item's sink, one call per run of consecutive sequence numbers of one sink. */
  private acknowledge(space: string, items: BatchOutcome['items'], failed: Map<number, string>): void {
    const now = performance.now();
    let sink: IndexSink | null = null;
    let first = 0;
    let last = 0;
    const flush = (): void => {
      if (sink) sink.indexed(first, last);
      sink = null;
    };
    items.forEach((item, i) => {
      const reason = failed.get(i);
      if (reason !== undefined) {
        flush();
        item.sink.failed(item.sequence, `indexing failed: ${reason}`);
        return;
      }
      this.deps.metrics.observationLatency.observe({ memory_space: space }, (now - item.acceptedAt) / 1000);
      if (sink === item.sink && item.sequence === last + 1) {
        last = item.sequence;
        return;
      }
      flush();
      sink = item.sink;
      first = item.sequence;
      last = item.sequence;
    });
    flush();
  }
}
