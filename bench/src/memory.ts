// `npm run bench:memory`: how many vectors an engine holds under a memory limit before it first
// refuses an observation for memory (REJECT_MEMORY_PRESSURE), and where its resident memory goes.
// The engine runs the memory-constrained profile (M 8) with `memory.limitBytes` set, so the guard
// acts as it would under a pod's limit; eight streams send clustered 768-dimension vectors as fast
// as it takes them. The breakdown reads /proc/<pid>/smaps: the part hnswlib needs is computed from
// its layout (level-0 record per vector: the vector, 2M links and a count, the label), the rest is
// what the engine adds. In the same run, hnswlib-node alone in a bare process (raw-hnsw-memory.ts)
// builds as many indexes with the same parameters: its resident bytes per vector bound what any
// engine on it can hold under the same limit.
import { fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processUsage, startEngine, withEngineTunables } from '@engram/engine/testing';
import { commandLine } from './command-line.js';
import { fillUntilRefused, settledVectors } from './memory-fill.js';
import type { RawMemoryPlan, RawMemoryResult } from './raw-hnsw-memory.js';

const args = commandLine({
  'limit-mib': { type: 'string', default: '512' },
  spaces: { type: 'string', default: '8' },
  dimension: { type: 'string', default: '768' },
  'raw-per-space': { type: 'string', default: '10000' },
  out: { type: 'string', default: 'bench/results/memory.json' },
}, {
  description: 'Vectors held under a memory limit before the first memory refusal, a breakdown of the resident set, and hnswlib-node\'s own bytes per vector in a bare process.',
  help: { 'limit-mib': 'the engine\'s memory limit (memory.limitBytes)', spaces: 'memory spaces written at once', dimension: 'vector dimension', 'raw-per-space': 'vectors per index in the bare hnswlib-node baseline', out: 'where the JSON results go' },
});
const MiB = 1024 * 1024;
const limitBytes = Number(args['limit-mib']) * MiB;
const dimension = Number(args.dimension);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resident kilobytes of the process by kind of mapping (Linux smaps). */
interface Resident {
  total: number;
  /** Anonymous mappings of exactly 256 KiB: V8 heap pages (every isolate: main thread and workers). */
  v8Pages: number;
  /** The main thread's malloc heap (`[heap]`). */
  mallocHeap: number;
  /** Other anonymous memory: hnswlib graphs, worker threads' malloc arenas, large buffers. */
  otherAnonymous: number;
  /** File-backed: the node binary, libraries, the addon. */
  files: number;
}

function residentOf(pid: number): Resident {
  const out: Resident = { total: 0, v8Pages: 0, mallocHeap: 0, otherAnonymous: 0, files: 0 };
  let kind: keyof Resident = 'otherAnonymous';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const range = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (range) {
      const bytes = parseInt(range[2]!, 16) - parseInt(range[1]!, 16);
      const name = range[3]!.trim();
      kind = name === '[heap]' ? 'mallocHeap' : name.startsWith('/') ? 'files' : name ? 'otherAnonymous' : bytes === 256 * 1024 ? 'v8Pages' : 'otherAnonymous';
    } else if (line.startsWith('Rss:')) {
      const bytes = Number(line.split(/\s+/)[1]) * 1024;
      out[kind] += bytes;
      out.total += bytes;
    }
  }
  return out;
}

/** Bytes hnswlib's level-0 layer takes per vector (what it allocates for every element). */
function graphBytesPerVector(m: number): number {
  return dimension * 4 + (2 * m * 4 + 4) + 8;
}

/** hnswlib-node alone, in a process of its own with the engine's allocator settings. */
function rawBaseline(plan: RawMemoryPlan): Promise<RawMemoryResult> {
  const child = fork(fileURLToPath(new URL('./raw-hnsw-memory.js', import.meta.url)), [], { env: withEngineTunables(process.env) });
  return new Promise((resolve, reject) => {
    child.once('message', (result) => resolve(result as RawMemoryResult));
    child.once('exit', (code) => reject(new Error(`the raw hnswlib baseline exited with ${code} before answering`)));
    child.send(plan);
  });
}

const spaces = Array.from({ length: Number(args.spaces) }, (_, i) => `memory-${i}`);
const engine = await startEngine({ 'hnsw.dimension': dimension, 'memory.limitBytes': limitBytes }, ['--profile', 'memory-constrained']);
try {
  await sleep(3000);
  const pid = engine.process.pid!;
  const idle = residentOf(pid);
  const fill = await fillUntilRefused(engine, spaces, dimension);
  const held = await settledVectors(engine);
  const full = residentOf(pid);
  const { config } = await engine.client().getConfig();
  const hnsw = (config['hnsw'] ?? {}) as { m?: number; efConstruction?: number };
  const m = Number(hnsw.m ?? 8);
  const raw = await rawBaseline({ spaces: spaces.length, perSpace: Number(args['raw-per-space']), dimension, m, efConstruction: Number(hnsw.efConstruction ?? 100) });
  const watermark = Number(((config['memory'] ?? {}) as { highWatermark?: number }).highWatermark ?? 0.9);
  const rawCouldHold = Math.floor((limitBytes * watermark - idle.total - raw.emptyIndexBytes) / raw.bytesPerVector);
  const graph = held * graphBytesPerVector(m);
  const mib = (b: number) => (b / MiB).toFixed(1);
  const perVector = (b: number) => (held > 0 ? (b / held).toFixed(0) : '-');
  const rows: Array<[string, number, number]> = [
    ['V8 heaps (256 KiB pages, every thread)', idle.v8Pages, full.v8Pages],
    ['main thread malloc heap', idle.mallocHeap, full.mallocHeap],
    ['other anonymous (hnswlib graphs, worker arenas, buffers)', idle.otherAnonymous, full.otherAnonymous],
    ['files (node, libraries, addon)', idle.files, full.files],
    ['total resident', idle.total, full.total],
  ];
  console.log(`limit ${mib(limitBytes)} MiB (memory-constrained profile, M ${m}, ${spaces.length} spaces, ${dimension} dims)`);
  console.log(`first REJECT_MEMORY_PRESSURE after ${fill.seconds.toFixed(1)} s: "${fill.refusedFor}"`);
  console.log(`vectors held: ${held} (target at 512 MiB: >= 110,000); peak RSS ${mib(processUsage(pid)?.peakRssBytes ?? 0)} MiB`);
  console.log('\n| resident memory | idle (MiB) | holding them (MiB) | added per vector (bytes) |\n|---|---|---|---|');
  for (const [what, before, after] of rows) console.log(`| ${what} | ${mib(before)} | ${mib(after)} | ${perVector(after - before)} |`);
  console.log(`| hnswlib's level-0 data (computed: ${graphBytesPerVector(m)} bytes a vector) | | ${mib(graph)} | ${graphBytesPerVector(m)} |`);
  console.log(`\nadded per vector: ${perVector(full.total - idle.total)} bytes = ${((full.total - idle.total) / graph).toFixed(2)}x what hnswlib's level 0 needs`);
  console.log(`hnswlib-node alone (a bare process, ${spaces.length} indexes of ${args['raw-per-space']}, sized exactly): ${mib(raw.emptyIndexBytes)} MiB resident for the empty indexes, then ${raw.bytesPerVector.toFixed(0)} bytes a vector`);
  console.log(`at that cost, the engine's room under the limit (${watermark} x ${mib(limitBytes)} MiB - ${mib(idle.total)} MiB idle) holds ${rawCouldHold} vectors; the engine held ${held} (${(held / rawCouldHold).toFixed(2)} of it)`);
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, JSON.stringify({ limitBytes, m, spaces: spaces.length, dimension, held, fill, idle, full, graphBytes: graph, raw, rawCouldHold }, null, 2));
} finally {
  await engine.stop();
}
