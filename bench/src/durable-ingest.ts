// `npm run bench:durable`: accepted (durable) ingest, observations/s, with the write-ahead log
// synced per batch, synced every 100 ms, never synced, and with no data directory at all, on the
// same burst in one run. Modes are interleaved over several rounds and medians are quoted, with
// each mode's ratio to the no-durability baseline of the same round.
import { availableParallelism } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { ClusteredVectors } from '@engram/engine/synthetic';
import { startEngine } from '@engram/engine/testing';
import { commandLine } from './command-line.js';
import { histogramQuantiles, median, quantile } from './quantiles.js';
import { runLoad } from './load.js';

const DIMENSION = 768;
const args = commandLine({
  observations: { type: 'string', default: '60000' },
  spaces: { type: 'string', default: '8' },
  rounds: { type: 'string', default: '3' },
  out: { type: 'string', default: 'bench/results/durable-ingest.json' },
}, {
  description: 'Accepted (durable) ingest with the log synced per batch, every 100 ms, never, and with no log; medians over rounds.',
  help: { observations: 'observations in each burst', spaces: 'memory spaces they are spread over', rounds: 'rounds of every mode', out: 'where the JSON results go' },
});

interface Mode {
  name: string;
  args: string[];
}

const MODES: Mode[] = [
  { name: 'no data directory (durability off)', args: ['--ephemeral'] },
  { name: 'log, sync none', args: ['--set', 'durability.syncPolicy=none'] },
  { name: 'log, sync every 100 ms', args: ['--set', 'durability.syncPolicy=interval'] },
  { name: 'log, sync per batch (default)', args: ['--set', 'durability.syncPolicy=batch'] },
];

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

async function burst(mode: Mode, vectors: Float32Array[], count: number, spaces: number) {
  const engine = await startEngine({ 'queue.capacity': Math.ceil(count * 1.3) }, ['--profile', 'high-throughput', ...mode.args]);
  const names = Array.from({ length: spaces }, (_, i) => `durable-${i}`);
  const load = await runLoad({
    address: engine.address, spaces: names, perSpace: Math.floor(count / spaces), vectors, idPrefix: 'd',
    maxBatch: 512, maxInFlight: 4096, honoursBackpressure: false, drain: false,
  });
  const syncs = histogramQuantiles(await engine.metrics(), 'engram_wal_sync_duration_seconds');
  await engine.stop('SIGKILL');
  return {
    rate: load.accepted / load.acceptSeconds, accepted: load.accepted,
    ackP50: quantile(load.acceptLatencyMs, 0.5), ackP99: quantile(load.acceptLatencyMs, 0.99),
    syncs: syncs.count, syncP99: syncs.p99,
  };
}

async function main(): Promise<void> {
  const count = Number(args.observations);
  const rounds = Number(args.rounds);
  const spaces = Number(args.spaces);
  console.log(`Durable ingest: ${count} observations x ${DIMENSION} dims over ${spaces} streams, high-throughput profile, ${rounds} rounds; ${availableParallelism()} cores; node ${process.version}`);
  const vectors = new ClusteredVectors({ dimension: DIMENSION, seed: 11, clusters: 64 }).take(count);
  const runs = new Map(MODES.map((m) => [m.name, [] as Array<Awaited<ReturnType<typeof burst>> & { ratio: number }>]));
  for (let round = 1; round <= rounds; round++) {
    let baseline = 0;
    for (const mode of MODES) {
      const r = await burst(mode, vectors, count, spaces);
      if (mode === MODES[0]) baseline = r.rate;
      runs.get(mode.name)!.push({ ...r, ratio: r.rate / baseline });
      console.log(`round ${round}, ${mode.name}: ${fmt(r.rate)} obs/s accepted (${fmt(r.rate / baseline, 2)}x of off), ack p50 ${fmt(r.ackP50, 1)} ms p99 ${fmt(r.ackP99, 1)} ms, ${r.syncs} syncs`);
    }
  }
  console.log('\n| mode | accepted obs/s (median) | vs durability off (median ratio) | ack p50 / p99 ms (median) | fdatasyncs per run (median) | mean observations per sync |');
  console.log('|---|---|---|---|---|---|');
  const rows = MODES.map((mode) => {
    const rs = runs.get(mode.name)!;
    const row = {
      mode: mode.name, rate: median(rs.map((r) => r.rate)), ratio: median(rs.map((r) => r.ratio)),
      ackP50: median(rs.map((r) => r.ackP50)), ackP99: median(rs.map((r) => r.ackP99)), syncs: median(rs.map((r) => r.syncs)),
      accepted: median(rs.map((r) => r.accepted)), runs: rs,
    };
    console.log(`| ${row.mode} | ${fmt(row.rate)} | ${fmt(row.ratio, 2)} | ${fmt(row.ackP50, 1)} / ${fmt(row.ackP99, 1)} | ${fmt(row.syncs)} | ${row.syncs > 0 ? fmt(row.accepted / row.syncs) : '-'} |`);
    return row;
  });
  mkdirSync(new URL('.', `file://${process.cwd()}/${args.out}`), { recursive: true });
  writeFileSync(args.out, JSON.stringify({ date: new Date().toISOString(), cores: availableParallelism(), node: process.version, count, rounds, rows }, null, 2));
  console.log(`\nresults written to ${args.out}`);
}

await main();
