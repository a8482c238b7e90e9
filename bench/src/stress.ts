// `npm run bench:stress` (the guide's full form: sustained load for 10 minutes) or
// `npm run bench:stress -- --short` (the CI form: 30 s sustained): prints a pass/fail table and
// exits 1 if any test fails.
import { mkdirSync, writeFileSync } from 'node:fs';
import { commandLine } from './command-line.js';
import { runStressSuite, STRESS_TESTS, type StressTest } from './stress-suite.js';

const args = commandLine({
  short: { type: 'boolean', default: false },
  profile: { type: 'string', default: 'balanced' },
  dimension: { type: 'string', default: '768' },
  spaces: { type: 'string', default: '4' },
  out: { type: 'string', default: 'bench/results/stress.json' },
  only: { type: 'string', default: STRESS_TESTS.join(',') },
}, {
  description: "The guide's stress suite (burst, sustained load, kills, memory) as a pass/fail table; exits 1 if a test fails.",
  help: {
    short: 'sustained load for 30 s instead of 10 minutes', profile: 'engine profile', dimension: 'embedding dimension',
    spaces: 'memory spaces streamed at once', out: 'where the JSON results go', only: 'comma-separated tests to run',
  },
});

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

async function main(): Promise<void> {
  const result = await runStressSuite({
    profile: args.profile, dimension: Number(args.dimension), spaces: Number(args.spaces),
    tests: args.only.split(',') as StressTest[],
    capacitySeconds: 10, burstSeconds: 30, sustainedSeconds: args.short ? 30 : 600, killSeconds: 20, memorySeconds: 120,
    log: (line) => console.log(line),
  });
  console.log(`\ncapacity ${fmt(result.capacity)} obs/s indexed; normal rate ${fmt(result.normal)} obs/s\n`);
  console.log('| test | offered obs/s | sent | accepted | indexed | stored | retryable refusals | final rejections | errors | recall p99 ms | recovery s | result |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of result.rows) {
    console.log(`| ${r.test} | ${fmt(r.offered)} | ${r.sent} | ${r.accepted} | ${r.indexed} | ${r.stored} | ${r.retryableRefusals} | ${r.finalRejections} | ${r.errors.length} | ${fmt(r.recallP99Ms, 1)} | ${fmt(r.recoverySeconds, 1)} | ${r.pass ? 'pass' : 'FAIL'}${r.note ? ` (${r.note})` : ''} |`);
  }
  for (const r of result.rows) for (const e of r.errors) console.log(`  ${r.test}: ${e}`);
  mkdirSync(new URL('.', `file://${process.cwd()}/${args.out}`), { recursive: true });
  writeFileSync(args.out, JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2));
  if (result.rows.some((r) => !r.pass)) process.exit(1);
}

await main();
