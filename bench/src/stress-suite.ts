// The guide's stress tests, run against real engine processes, each judged by the guide's pass
// criteria: no observation lost (every one sent is accepted, indexed and stored), graceful
// degradation (only retryable refusals, no stream or recall errors, the engine stays up) and
// recovery within 60 seconds (from the end of the disturbance until everything is indexed and the
// engine is ready).
//
// "Normal rate" is half the indexing capacity measured first on the same machine and profile (a
// deployment sized with 2x headroom), so "sustained 2x" runs at capacity and "burst 10x" at 5x.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { EngramClient } from '@engram/engine/client';
import { ClusteredVectors } from '@engram/engine/synthetic';
import { processUsage, startEngine, type EngineProcess } from '@engram/engine/testing';
import { quantile } from './quantiles.js';

export interface StressOptions {
  profile: string;
  dimension: number;
  spaces: number;
  capacitySeconds: number;
  burstSeconds: number;
  sustainedSeconds: number;
  killSeconds: number;
  memorySeconds: number;
  /** Which tests to run (default all). */
  tests?: StressTest[];
  log(line: string): void;
}

export const STRESS_TESTS = ['burst', 'sustained', 'kill', 'memory'] as const;
export type StressTest = (typeof STRESS_TESTS)[number];

export interface StressRow {
  test: string;
  offered: number;
  sent: number;
  accepted: number;
  indexed: number;
  stored: number;
  retryableRefusals: number;
  finalRejections: number;
  errors: string[];
  recallP99Ms: number;
  recoverySeconds: number;
  note: string;
  pass: boolean;
}

const RECOVERY_LIMIT_S = 60;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface DriveResult {
  sent: number;
  accepted: number;
  indexed: number;
  retryable: number;
  finalRejections: number;
  errors: string[];
  recallLatencies: number[];
  /** When sending stopped, and when every stream had closed with everything indexed. */
  stoppedAt: number;
  drainedAt: number;
}

/** Streams `rate` obs/s (paced, behind backpressure) into fresh spaces for `seconds`, recalling meanwhile. */
async function drive(engine: EngineProcess, o: { prefix: string; spaces: number; rate: number; seconds: number; vectors: ClusteredVectors; mid?: () => Promise<void>; afterSending?: () => void }): Promise<DriveResult> {
  const client = new EngramClient(engine.address);
  const names = Array.from({ length: o.spaces }, (_, i) => `${o.prefix}-${i}`);
  const errors: string[] = [];
  const recallLatencies: number[] = [];
  let retryable = 0;
  let finalRejections = 0;
  let sending = true;
  const started = performance.now();
  let stoppedAt = 0;
  const perStream = o.rate / o.spaces;
  const midway = o.mid ? sleep((o.seconds * 1000) / 2).then(o.mid).catch((e: unknown) => { errors.push(`fault: ${String(e)}`); }) : Promise.resolve();
  const streams = names.map(async (space) => {
    const stream = await client.openStream({ memorySpace: space, maxBatch: 100, maxInFlight: 1000 });
    stream.on('refused', (ack) => { retryable += Number(ack.lastSequence) - Number(ack.firstSequence) + 1; });
    stream.on('rejected', (ack) => { finalRejections += Number(ack.lastSequence) - Number(ack.firstSequence) + 1; });
    try {
      for (let i = 0; sending; i++) {
        const wait = started + (i / perStream) * 1000 - performance.now();
        if (wait > 1) await sleep(wait);
        if (!sending) break;
        await stream.send({ id: `${space}-${i}`, embedding: o.vectors.next() });
      }
      return await stream.close({ drain: true });
    } catch (e) {
      errors.push(`${space}: ${e instanceof Error ? e.message : String(e)}`);
      return stream.counts;
    }
  });
  const recaller = (async () => {
    for (let i = 0; sending || i % 10 !== 0; i++) {
      const t = performance.now();
      try {
        await client.recall({ memorySpace: names[i % names.length]!, vector: o.vectors.next(), k: 10 });
        recallLatencies.push(performance.now() - t);
      } catch (e) {
        errors.push(`recall: ${e instanceof Error ? e.message : String(e)}`);
      }
      await sleep(20);
    }
  })();
  await sleep(o.seconds * 1000);
  sending = false;
  stoppedAt = performance.now();
  o.afterSending?.();
  const counts = await Promise.all(streams);
  const drainedAt = performance.now();
  await Promise.all([recaller, midway]);
  client.close();
  return {
    sent: counts.reduce((n, c) => n + c.sent, 0), accepted: counts.reduce((n, c) => n + c.accepted, 0),
    indexed: counts.reduce((n, c) => n + c.indexed, 0), retryable, finalRejections, errors, recallLatencies, stoppedAt, drainedAt,
  };
}

async function ready(engine: EngineProcess): Promise<boolean> {
  try {
    return (await fetch(`${engine.httpUrl}/readyz`)).status === 200;
  } catch {
    return false;
  }
}

/** Seconds from `from` until the engine is ready (or the limit passes). */
async function secondsUntilReady(engine: EngineProcess, from: number): Promise<number> {
  while (!(await ready(engine))) {
    if (performance.now() - from > RECOVERY_LIMIT_S * 2000) break;
    await sleep(50);
  }
  return (performance.now() - from) / 1000;
}

async function storedIn(engine: EngineProcess, prefix: string): Promise<number> {
  const client = new EngramClient(engine.address);
  try {
    return (await client.stats()).spaces.filter((s) => s.memorySpace.startsWith(`${prefix}-`)).reduce((n, s) => n + s.vectors, 0);
  } finally {
    client.close();
  }
}

function judge(test: string, offered: number, r: DriveResult, stored: number, recoverySeconds: number, note = ''): StressRow {
  const lost = r.sent !== r.accepted || r.indexed !== r.accepted || stored !== r.accepted;
  const pass = !lost && r.errors.length === 0 && r.finalRejections === 0 && recoverySeconds <= RECOVERY_LIMIT_S;
  return {
    test, offered, sent: r.sent, accepted: r.accepted, indexed: r.indexed, stored, retryableRefusals: r.retryable,
    finalRejections: r.finalRejections, errors: r.errors.slice(0, 5), recallP99Ms: quantile(r.recallLatencies, 0.99),
    recoverySeconds, note, pass,
  };
}

export async function runStressSuite(o: StressOptions): Promise<{ capacity: number; normal: number; rows: StressRow[] }> {
  const vectors = new ClusteredVectors({ dimension: o.dimension, seed: 99, clusters: 64 });
  const start = (extra: string[] = []) => startEngine({ 'hnsw.dimension': o.dimension }, ['--profile', o.profile, ...extra]);

  // Capacity: as fast as the engine indexes, then normal = half of it.
  let engine = await start();
  const cap = await drive(engine, { prefix: 'cap', spaces: o.spaces, rate: 1e6, seconds: o.capacitySeconds, vectors });
  await engine.stop();
  const capacity = cap.indexed / ((cap.drainedAt - (cap.stoppedAt - o.capacitySeconds * 1000)) / 1000);
  const normal = capacity / 2;
  o.log(`indexing capacity ${capacity.toFixed(0)} obs/s (${o.profile}, ${o.dimension} dims); normal rate ${normal.toFixed(0)} obs/s`);
  const rows: StressRow[] = [];

  /** `mid` may return how long the engine took to recover from what it did (seconds). */
  const paced = async (test: string, prefix: string, factor: number, seconds: number, extra: string[] = [], mid?: (e: EngineProcess) => Promise<number>) => {
    engine = await start(extra);
    let midRecovery = 0;
    const r = await drive(engine, {
      prefix, spaces: o.spaces, rate: normal * factor, seconds, vectors,
      ...(mid ? { mid: async () => { midRecovery = await mid(engine); } } : {}),
    });
    const recovery = Math.max((r.drainedAt - r.stoppedAt) / 1000, await secondsUntilReady(engine, r.stoppedAt), midRecovery);
    const row = judge(test, normal * factor, r, await storedIn(engine, prefix), recovery);
    await engine.stop();
    rows.push(row);
    o.log(`${test}: ${row.pass ? 'pass' : 'FAIL'}`);
    return row;
  };

  const runs = new Set(o.tests ?? STRESS_TESTS);
  if (runs.has('burst')) await paced(`burst: 10x normal for ${o.burstSeconds} s`, 'burst', 10, o.burstSeconds);
  if (runs.has('sustained')) await paced(`sustained: 2x normal for ${o.sustainedSeconds} s`, 'sustained', 2, o.sustainedSeconds);
  if (runs.has('kill')) await killHalf();
  if (runs.has('memory')) rows.push(await memoryLimited(o, normal, vectors));
  return { capacity, normal, rows };

  async function killHalf(): Promise<void> {
  let killed: number[] = [];
  const kill = await paced(`worker failure: kill 50% of workers mid-stream (normal rate, ${o.killSeconds} s)`, 'kill', 1, o.killSeconds, ['--enable-fault-injection'], async (e) => {
    const client = new EngramClient(e.address);
    const workers = (await client.stats()).workers.map((w) => w.worker);
    const killedAt = performance.now();
    killed = await client.killWorkers(workers.slice(0, Math.ceil(workers.length / 2)));
    client.close();
    await sleep(100); // the supervisor notices the exit and the engine reports not ready
    return secondsUntilReady(e, killedAt);
  });
  kill.note = `killed workers ${killed.join(', ') || 'none'}; recovery counts from the kill`;
  if (killed.length === 0) kill.pass = false;
  }
}

/**
 * Normal load with the engine started inside a memory cgroup limited to half of what the same load
 * peaked at without a limit. The load must run long enough for the indexes to dominate the peak:
 * half of a 15 s run's peak (103 of 206 MiB) is below what the engine needs idle (104 MiB resident
 * with 4 workers), which no admission control can help. Passing means the engine is not killed:
 * it refuses what it cannot hold (retryable, with the reason), loses nothing it accepted, and once the limit is lifted at the end
 * of the load it takes everything the clients kept resending within 60 s.
 */
async function memoryLimited(o: StressOptions, normal: number, vectors: ClusteredVectors): Promise<StressRow> {
  const test = `memory: limited to 50% of normal peak (normal rate, ${o.memorySeconds} s)`;
  const config = { 'hnsw.dimension': o.dimension };
  const engineArgs = ['--profile', o.profile];
  let engine = await startEngine(config, engineArgs);
  await drive(engine, { prefix: 'mem-free', spaces: o.spaces, rate: normal, seconds: o.memorySeconds, vectors });
  const peak = processUsage(engine.process.pid!)?.peakRssBytes ?? 0;
  await engine.stop();
  const limit = Math.floor(peak / 2);
  const group = createMemoryCgroup(limit);
  if (typeof group === 'string') {
    return { test, offered: normal, sent: 0, accepted: 0, indexed: 0, stored: 0, retryableRefusals: 0, finalRejections: 0, errors: [], recallP99Ms: Number.NaN, recoverySeconds: 0, note: `skipped: ${group}`, pass: true };
  }
  try {
    engine = await startEngine(config, engineArgs, { wrapper: ['sh', '-c', 'echo $$ > "$0" && exec "$@"', group.procs] });
    const r = await drive(engine, { prefix: 'mem', spaces: o.spaces, rate: normal, seconds: o.memorySeconds, vectors, afterSending: () => group.lift() });
    const alive = engine.process.exitCode === null && engine.process.signalCode === null;
    const recovery = alive ? Math.max((r.drainedAt - r.stoppedAt) / 1000, await secondsUntilReady(engine, r.stoppedAt)) : Infinity;
    const stored = alive ? await storedIn(engine, 'mem') : 0;
    const row = judge(test, normal, r, stored, recovery,
      `limit ${(limit / 1048576).toFixed(0)} MiB of a ${(peak / 1048576).toFixed(0)} MiB peak, lifted when sending stopped; ${group.usage()}${alive ? '' : `; engine died (${engine.process.signalCode ?? engine.process.exitCode})`}`);
    if (!alive) row.pass = false;
    o.log(`${test}: ${row.pass ? 'pass' : 'FAIL'}`);
    return row;
  } finally {
    await engine.stop();
    group.remove();
  }
}

interface MemoryCgroup {
  /** Write a pid here to move that process in. */
  procs: string;
  lift(): void;
  usage(): string;
  remove(): void;
}

/** A new memory cgroup (v2 or v1) limited to `bytes`; a string says why it could not be made. */
function createMemoryCgroup(bytes: number): MemoryCgroup | string {
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  const dir = v2 ? `/sys/fs/cgroup/engram-stress-${process.pid}` : `/sys/fs/cgroup/memory/engram-stress-${process.pid}`;
  const limitFile = `${dir}/${v2 ? 'memory.max' : 'memory.limit_in_bytes'}`;
  try {
    mkdirSync(dir);
    writeFileSync(limitFile, String(bytes));
  } catch (e) {
    return `cannot create a memory cgroup here (${e instanceof Error ? e.message : String(e)})`;
  }
  const read = (file: string): number => {
    try {
      return Number(readFileSync(`${dir}/${file}`, 'utf8').trim().split(/\s/)[0]);
    } catch {
      return Number.NaN;
    }
  };
  const mib = (n: number) => (n / 1048576).toFixed(0);
  let usage = 'limit never lifted';
  return {
    procs: `${dir}/cgroup.procs`,
    lift: () => {
      usage = v2
        ? `cgroup peak while limited ${mib(read('memory.peak'))} MiB`
        : `cgroup peak while limited ${mib(read('memory.max_usage_in_bytes'))} MiB (page cache included), limit hit ${read('memory.failcnt')} times`;
      writeFileSync(limitFile, v2 ? 'max' : '-1');
    },
    usage: () => usage,
    remove: () => {
      for (let i = 0; i < 50; i++) {
        try {
          rmdirSync(dir);
          return;
        } catch {
          // the process has not left yet
        }
      }
    },
  };
}
