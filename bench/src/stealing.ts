// `npm run bench:stealing`: what work stealing buys. Three memory spaces that the ring gives to the
// same one of two workers (the unlucky case consistent hashing allows): indexed throughput and
// time to drain with stealing off (stealThreshold 0) and on (200), three runs each, medians.
import { ClusteredVectors } from '@engram/engine/synthetic';
import { spacesOnWorker, startEngine } from '@engram/engine/testing';
import { commandLine } from './command-line.js';
import { median } from './quantiles.js';
import { runLoad } from './load.js';

const args = commandLine({ 'per-space': { type: 'string', default: '3000' } }, {
  description: 'What work stealing buys: three memory spaces on one of two workers, stealing off and on, three runs each, medians.',
  help: { 'per-space': 'observations streamed into each memory space' },
});
const PER_SPACE = Number(args['per-space']);
const RUNS = 3;
const DIMENSION = 768;

async function run(stealThreshold: number, vectors: Float32Array[]) {
  const engine = await startEngine({ workers: 2, stealThreshold, 'queue.capacity': PER_SPACE * 4 });
  const load = await runLoad({ address: engine.address, spaces: spacesOnWorker('hot', 3, 0, 2), perSpace: PER_SPACE, vectors, idPrefix: 's', maxBatch: 256 });
  const metrics = await (await fetch(`${engine.httpUrl}/metrics`)).text();
  await engine.stop();
  const stolen = [...metrics.matchAll(/^engram_streaming_work_stolen_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  return { rate: load.indexed / load.indexSeconds, seconds: load.indexSeconds, stolen };
}

async function main(): Promise<void> {
  const vectors = new ClusteredVectors({ dimension: DIMENSION, seed: 11 }).take(PER_SPACE * 3);
  console.log(`work stealing: 3 spaces x ${PER_SPACE} observations (${DIMENSION} dims), all on worker 0 of 2; ${RUNS} runs each`);
  const off: Array<Awaited<ReturnType<typeof run>>> = [];
  const on: Array<Awaited<ReturnType<typeof run>>> = [];
  for (let r = 0; r < RUNS; r++) {
    off.push(await run(0, vectors));
    on.push(await run(200, vectors));
  }
  const offRate = median(off.map((x) => x.rate));
  const onRate = median(on.map((x) => x.rate));
  console.log('| stealing | indexed obs/s (median) | seconds to index all (median) | spaces moved (median) |');
  console.log('|---|---|---|---|');
  console.log(`| off (threshold 0) | ${offRate.toFixed(0)} | ${median(off.map((x) => x.seconds)).toFixed(2)} | ${median(off.map((x) => x.stolen))} |`);
  console.log(`| on (threshold 200) | ${onRate.toFixed(0)} | ${median(on.map((x) => x.seconds)).toFixed(2)} | ${median(on.map((x) => x.stolen))} |`);
  console.log(`stealing on / off: ${(onRate / offRate).toFixed(2)}x indexed throughput`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
