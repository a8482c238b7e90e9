// The kill drill: an engine with a data directory is SIGKILLed at random moments while clients
// stream into it, restarted, and checked: every observation it ACCEPTED is stored with the vector
// that was sent (exact lookup by id) and is recalled as its own nearest neighbour, and no id is
// stored twice. Used by the CI test (20 trials) and by `npm run soak:kill` (hundreds). "Lost" and
// "not recalled" are counted apart (see stored-check.ts); the drill uses M 16 / efC 200, since with
// M 8 / efC 64 hnswlib-node leaves 5 of 8,000 clustered points unreachable even at ef 1024.
import { performance } from 'node:perf_hooks';
import type { ObservationInput } from '../client/observation-stream.js';
import { ClusteredVectors, seededRandom } from '../synthetic/clustered-vectors.js';
import { startEngine, type EngineProcess } from './engine-process.js';
import { checkStored } from './stored-check.js';

export interface KillDrillOptions {
  dataDir: string;
  trials: number;
  seed: number;
  /** Memory spaces streamed at once, one stream each. */
  spaces?: number;
  dimension?: number;
  /** Each trial streams for a random time in [minMs, maxMs) before the kill. */
  minMs?: number;
  maxMs?: number;
  /** Observations per second each stream sends (paced, so the checks stay affordable). */
  rate?: number;
  config?: Record<string, unknown>;
  onTrial?(trial: TrialReport): void;
}

export interface TrialReport {
  trial: number;
  streamedMs: number;
  /** Observations acknowledged ACCEPTED in this trial. */
  accepted: number;
  /** Time from start of the restarted engine to ready. */
  restartSeconds: number;
  /** Log records the restarted engine replayed (what its last snapshots did not cover). */
  recordsReplayed: number;
  /** Ids accepted in this trial that the restarted engine does not hold, or holds with another vector. */
  lost: string[];
  /** Ids accepted in this trial that are stored but not recalled as their own nearest neighbour. */
  notRecalled: string[];
}

export interface KillDrillReport {
  trials: TrialReport[];
  accepted: number;
  /** After the last restart, over everything ever accepted. */
  lost: string[];
  notRecalled: string[];
  /** Vectors the engine stores per space vs distinct ids accepted / sent (no duplicates: stored <= sent). */
  spaces: Array<{ space: string; stored: number; accepted: number; sent: number }>;
}

interface SpaceFeed {
  space: string;
  vectors: ClusteredVectors;
  sent: Map<string, Float32Array>;
  accepted: Map<string, Float32Array>;
  next: number;
}

export async function runKillDrill(options: KillDrillOptions): Promise<KillDrillReport> {
  const random = seededRandom(options.seed); // a failing drill can be replayed with its seed
  const dimension = options.dimension ?? 32;
  const config = {
    'hnsw.dimension': dimension, workers: 2,
    'durability.snapshotIntervalMs': 1000, 'durability.segmentBytes': 256 * 1024, ...options.config,
  };
  const feeds: SpaceFeed[] = Array.from({ length: options.spaces ?? 2 }, (_, i) => ({
    space: `kill-${i}`, vectors: new ClusteredVectors({ dimension, seed: options.seed + i }), sent: new Map(), accepted: new Map(), next: 0,
  }));
  const trials: TrialReport[] = [];
  const args = ['--data-dir', options.dataDir, '--shutdown-deadline-ms', '5000'];
  let engine = await startReady(config, args);
  for (let trial = 1; trial <= options.trials; trial++) {
    const before = new Map(feeds.map((f) => [f.space, new Map(f.accepted)]));
    const streamedMs = (options.minMs ?? 200) + random() * ((options.maxMs ?? 1500) - (options.minMs ?? 200));
    const acceptedBefore = feeds.reduce((n, f) => n + f.accepted.size, 0);
    await streamThenKill(engine, feeds, streamedMs, options.rate ?? 1500);
    const started = performance.now();
    engine = await startReady(config, args);
    const restartSeconds = (performance.now() - started) / 1000;
    // Everything accepted up to and including this trial must be there; check this trial's share.
    const fresh = feeds.flatMap((f) => [...f.accepted].filter(([id]) => !before.get(f.space)!.has(id)).map(([id, embedding]) => ({ space: f.space, id, embedding })));
    const check = await checkStored(engine.client(), fresh);
    const report = {
      trial, streamedMs, accepted: feeds.reduce((n, f) => n + f.accepted.size, 0) - acceptedBefore, restartSeconds,
      recordsReplayed: recordsReplayed(engine), ...check,
    };
    trials.push(report);
    options.onTrial?.(report);
  }
  const client = engine.client();
  const everything = feeds.flatMap((f) => [...f.accepted].map(([id, embedding]) => ({ space: f.space, id, embedding })));
  const final = await checkStored(client, everything);
  const stats = await client.stats();
  const spaces = feeds.map((f) => ({
    space: f.space, stored: stats.spaces.find((s) => s.memorySpace === f.space)?.vectors ?? 0, accepted: f.accepted.size, sent: f.sent.size,
  }));
  await engine.stop();
  return { trials, accepted: everything.length, ...final, spaces };
}

/** What the engine's recovery log line says it replayed. */
function recordsReplayed(engine: EngineProcess): number {
  return Number(engine.logEntries().find((e) => e.message === 'recovered from the data directory')?.recordsReplayed ?? 0);
}

async function startReady(config: Record<string, unknown>, args: string[]): Promise<EngineProcess> {
  const engine = await startEngine(config, args);
  for (;;) {
    if ((await fetch(`${engine.httpUrl}/readyz`)).status === 200) return engine;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Streams every feed at `rate` until `ms` pass, then SIGKILLs the engine mid-stream. */
async function streamThenKill(engine: EngineProcess, feeds: SpaceFeed[], ms: number, rate: number): Promise<void> {
  const client = engine.client();
  let killed = false;
  const started = performance.now();
  const loops = feeds.map(async (feed) => {
    const stream = await client.openStream({ memorySpace: feed.space, maxBatch: 64, maxInFlight: 512 });
    // Sequence n is the n-th observation sent on this stream.
    const inFlight: ObservationInput[] = [];
    stream.on('ack', (ack) => {
      if (ack.status !== 'ACCEPTED') return;
      for (let s = Number(ack.firstSequence); s <= Number(ack.lastSequence); s++) {
        const o = inFlight[s - 1];
        if (o) feed.accepted.set(o.id, o.embedding as Float32Array);
      }
    });
    stream.on('error', () => undefined);
    try {
      while (!killed) {
        if (inFlight.length > ((performance.now() - started) / 1000) * rate) {
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        const o = { id: `${feed.space}-${feed.next++}`, embedding: feed.vectors.next() };
        feed.sent.set(o.id, o.embedding);
        inFlight.push(o);
        await stream.send(o);
      }
    } catch {
      // the engine was killed under the stream
    }
  });
  await new Promise((r) => setTimeout(r, ms));
  killed = true;
  engine.process.kill('SIGKILL');
  await engine.stop();
  await Promise.all(loops);
}
