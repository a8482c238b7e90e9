// `npm run soak:kill -- --trials 300`: the CI kill drill, for as long as you like. SIGKILLs an
// engine at random moments under two streams, restarts it on the same data directory and checks
// that every acknowledged observation is stored with its vector and recalled as its own nearest
// neighbour. Exits 1 on a loss.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandLine } from './command-line.js';
import { runKillDrill } from '@engram/engine/testing/kill-drill';
import { median, quantile } from './quantiles.js';

const args = commandLine({
  trials: { type: 'string', default: '200' },
  seed: { type: 'string', default: String(Date.now() % 1_000_000) },
  'data-dir': { type: 'string' },
}, {
  description: 'SIGKILLs an engine at random moments under load and checks every acknowledged observation survives; exits 1 on a loss.',
  help: { trials: 'kills', seed: 'seed of the random moments (a failure prints its seed)', 'data-dir': 'data directory to use and keep (default: a temporary one, removed)' },
});

async function main(): Promise<void> {
  const trials = Number(args.trials);
  const seed = Number(args.seed);
  const dataDir = args['data-dir'] ?? mkdtempSync(join(tmpdir(), 'engram-soak-'));
  console.log(`kill soak: ${trials} trials, seed ${seed} (replay a failure with --seed ${seed}), data directory ${dataDir}`);
  const report = await runKillDrill({
    dataDir, trials, seed,
    onTrial: (t) => console.log(`trial ${t.trial}: streamed ${t.streamedMs.toFixed(0)} ms, ${t.accepted} accepted, restart ${t.restartSeconds.toFixed(2)} s, lost ${t.lost.length}, not recalled ${t.notRecalled.length}`),
  });
  const restarts = report.trials.map((t) => t.restartSeconds);
  console.log(`\n| trials | acknowledged | lost | stored but not recalled as own NN | restart to ready s (median / p99 / max) | stored vs acknowledged vs sent |`);
  console.log('|---|---|---|---|---|---|');
  console.log(`| ${trials} | ${report.accepted} | ${report.lost.length} | ${report.notRecalled.length} | ${median(restarts).toFixed(2)} / ${quantile(restarts, 0.99).toFixed(2)} / ${Math.max(...restarts).toFixed(2)} | ${report.spaces.map((s) => `${s.space}: ${s.stored} / ${s.accepted} / ${s.sent}`).join('; ')} |`);
  if (!args['data-dir']) rmSync(dataDir, { recursive: true, force: true });
  if (report.lost.length > 0) {
    console.log(`LOST: ${report.lost.slice(0, 20).join(', ')}${report.lost.length > 20 ? ', ...' : ''}`);
    process.exit(1);
  }
}

await main();
