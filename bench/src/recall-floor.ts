// `npm run bench:recall-floor`: how much an idle engine adds to a recall over its floor, the cost of
// its two parts measured alone in the same run: a bare grpc-js unary echo of a recall-sized payload
// (a server and a client process, nothing else), and hnswlib's searchKnn on the same data in-process.
// The engine holds 20,000 vectors in one space (balanced profile); the client runs in a process of
// its own and alternates blocks of echo calls and engine recalls, so a drift of the machine touches
// both; a health check on the engine (its server, no work) splits what the engine adds into its
// server and its recall path. Target: the engine within 0.5 ms (p50) and 1 ms (p99) of echo + search.
// A recall searches an index that is cold between calls (a raw search in a loop is not), and the
// engine's indexes live on worker threads, so it also crosses to a thread and back: the echo
// server also answers a query with its neighbours, searched at the recalls' own pace on its event
// loop and on a worker thread holding an index of the same data. The second is the floor of any
// design that searches off the event loop; the engine's own share is what it adds over it.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as grpc from '@grpc/grpc-js';
import { EngramClient } from '@engram/engine/client';
import { hnswBuild } from '@engram/engine/hnswlib';
import { ClusteredVectors } from '@engram/engine/synthetic';
import { startEngine } from '@engram/engine/testing';
import { commandLine } from './command-line.js';
import { quantile } from './quantiles.js';
import { floorIndex, searchableIndex } from './search-worker.js';

const DIMENSION = 768;
const SPACE = 'floor-space';
/** A RecallRequest carries the query's float32 bytes and a few small fields. */
const PAYLOAD_BYTES = DIMENSION * 4 + 32;
const ECHO_METHOD = {
  path: '/bench.Echo/Echo', requestStream: false, responseStream: false,
  requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b,
} as const;

/** A query searched on the server's event loop, the neighbours answered: a recall with nothing else. */
const INLINE_METHOD = { ...ECHO_METHOD, path: '/bench.Echo/SearchInline' } as const;
/** The same, the search on a worker thread (as the engine does). */
const ON_WORKER_METHOD = { ...ECHO_METHOD, path: '/bench.Echo/SearchOnWorker' } as const;
const SEED = 21;

/** The engine's own health check: the same server and connection as a recall, with no work behind it. */
const HEALTH_METHOD = { ...ECHO_METHOD, path: '/grpc.health.v1.Health/Check' } as const;

type Role = 'echo-server' | 'client';
interface ClientResult { echoMs: number[]; inlineMs: number[]; onWorkerMs: number[]; healthMs: number[]; recallMs: number[] }

const role = process.env.ENGRAM_FLOOR_ROLE as Role | undefined;
if (role === 'echo-server') void echoServer();
else if (role === 'client') void client();
else {
  const args = commandLine({ vectors: { type: 'string', default: '20000' }, calls: { type: 'string', default: '3000' }, warmup: { type: 'string', default: '3000' } }, {
    description: 'An idle engine\'s recall latency against its floor: a bare grpc-js echo plus a raw searchKnn, same run, client in another process.',
    help: { vectors: 'vectors in the space', calls: 'echo calls and recalls each', warmup: 'calls of each kind before measuring (V8 compiles grpc-js\'s paths for thousands of calls)' },
  });
  main(Number(args.vectors), Number(args.calls), Number(args.warmup)).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}

async function main(count: number, calls: number, warmup: number): Promise<void> {
  const all = new ClusteredVectors({ dimension: DIMENSION, seed: SEED }).take(count + 500);
  const data = all.slice(0, count);
  const queries = all.slice(count);
  const search = rawSearch(count, queries, calls);
  const engine = await startEngine({}, ['--profile', 'balanced', '--ephemeral']);
  const echo = await startChild('echo-server', { ENGRAM_VECTORS: String(count) });
  try {
    await load(engine.address, data);
    const result = await new Promise<ClientResult>((resolve, reject) => {
      const child = startChild('client', { ENGRAM_ENGINE: engine.address, ENGRAM_ECHO: echo.address, ENGRAM_CALLS: String(calls), ENGRAM_WARMUP: String(warmup) });
      void child.then(({ process: p }) => {
        p.once('message', (m) => resolve(m as ClientResult));
        p.once('exit', (code) => code !== 0 && reject(new Error(`client exited with ${code}`)));
      });
    });
    report(count, calls, warmup, search, result);
  } finally {
    echo.process.kill();
    await engine.stop();
  }
}

/** searchKnn k=10 at the engine's default efSearch on the same data, in this process. */
function rawSearch(count: number, queries: Float32Array[], calls: number): number[] {
  const index = floorIndex(count, DIMENSION, SEED);
  const ms: number[] = [];
  for (let c = 0; c < calls; c++) {
    const query = Array.from(queries[c % queries.length]!);
    const started = performance.now();
    index.searchKnn(query, 10);
    ms.push(performance.now() - started);
  }
  return ms;
}

async function load(address: string, data: Float32Array[]): Promise<void> {
  const engram = new EngramClient(address);
  const stream = await engram.openStream({ memorySpace: SPACE, maxBatch: 256 });
  for (const [i, v] of data.entries()) await stream.send({ id: `v-${i}`, embedding: v, content: `vector ${i}` });
  await stream.close({ drain: true });
  engram.close();
}

function startChild(as: Role, env: Record<string, string>): Promise<{ process: ChildProcess; address: string }> {
  const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, ...env, ENGRAM_FLOOR_ROLE: as } });
  if (as === 'client') return Promise.resolve({ process: child, address: '' });
  return new Promise((resolve) => child.once('message', (m) => resolve({ process: child, address: (m as { address: string }).address })));
}

/**
 * A grpc-js server that returns what it is sent, and answers a query with its neighbours searched
 * on its event loop or on a worker thread (each an index of the engine's data, built before the
 * server answers).
 */
async function echoServer(): Promise<void> {
  const server = new grpc.Server();
  const count = Number(process.env.ENGRAM_VECTORS);
  const search = searchableIndex(count, DIMENSION, SEED);
  const worker = new Worker(new URL('./search-worker.js', import.meta.url), { workerData: { count, dimension: DIMENSION, seed: SEED } });
  await new Promise((resolve) => worker.once('message', resolve));
  const waiting: Array<(b: Buffer) => void> = [];
  worker.on('message', (hits: unknown) => waiting.shift()!(Buffer.from(JSON.stringify(hits))));
  server.addService({ Echo: ECHO_METHOD, SearchInline: INLINE_METHOD, SearchOnWorker: ON_WORKER_METHOD }, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, call.request),
    SearchInline: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, Buffer.from(JSON.stringify(search(call.request)))),
    SearchOnWorker: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      waiting.push((b) => callback(null, b));
      worker.postMessage(call.request);
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  process.send!({ address: `127.0.0.1:${port}` });
}

/** Alternating blocks of 100 calls of each kind (echo, bare searches, health, recall), one at a time. */
async function client(): Promise<void> {
  const calls = Number(process.env.ENGRAM_CALLS);
  const Echo = grpc.makeGenericClientConstructor({ Echo: ECHO_METHOD, SearchInline: INLINE_METHOD, SearchOnWorker: ON_WORKER_METHOD }, 'Echo');
  type Call = (b: Buffer, cb: (e: Error | null, r: Buffer) => void) => void;
  const echo = new Echo(process.env.ENGRAM_ECHO!, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Echo: Call; SearchInline: Call; SearchOnWorker: Call };
  const Health = grpc.makeGenericClientConstructor({ Check: HEALTH_METHOD }, 'Health');
  const health = new Health(process.env.ENGRAM_ENGINE!, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Check: (b: Buffer, cb: (e: Error | null, r: Buffer) => void) => void };
  const engram = new EngramClient(process.env.ENGRAM_ENGINE!);
  const queries = new ClusteredVectors({ dimension: DIMENSION, seed: SEED }).take(500);
  const payload = Buffer.alloc(PAYLOAD_BYTES, 7);
  const result: ClientResult = { echoMs: [], inlineMs: [], onWorkerMs: [], healthMs: [], recallMs: [] };
  const echoOnce = () => new Promise<void>((resolve, reject) => echo.Echo(payload, (e) => (e ? reject(e) : resolve())));
  const bytes = (query: Float32Array) => Buffer.from(query.buffer, query.byteOffset, query.byteLength);
  const searchInlineOnce = (query: Float32Array) => new Promise<void>((resolve, reject) => echo.SearchInline(bytes(query), (e) => (e ? reject(e) : resolve())));
  const searchOnWorkerOnce = (query: Float32Array) => new Promise<void>((resolve, reject) => echo.SearchOnWorker(bytes(query), (e) => (e ? reject(e) : resolve())));
  // an empty HealthCheckRequest: the whole server
  const healthOnce = () => new Promise<void>((resolve, reject) => health.Check(Buffer.alloc(0), (e) => (e ? reject(e) : resolve())));
  const kinds: Array<[number[], (i: number) => Promise<unknown>]> = [
    [result.echoMs, echoOnce],
    [result.inlineMs, (i) => searchInlineOnce(queries[i % queries.length]!)],
    [result.onWorkerMs, (i) => searchOnWorkerOnce(queries[i % queries.length]!)],
    [result.healthMs, healthOnce],
    [result.recallMs, (i) => engram.recall({ memorySpace: SPACE, vector: queries[i % queries.length]!, k: 10 })],
  ];
  // Warm up first, in the same blocks, nothing recorded: both processes' V8 goes on compiling
  // grpc-js's paths on its background threads for thousands of calls, and on two cores that
  // compiling takes the CPU a call needs (docs/benchmarks.md, "The echo floor's tail").
  const blocks = async (n: number, record: boolean): Promise<void> => {
    for (let done = 0; done < n; done += 100) {
      for (const [into, call] of kinds) {
        for (let i = 0; i < 100; i++) {
          const started = performance.now();
          await call(done + i);
          if (record) into.push(performance.now() - started);
        }
      }
    }
  };
  await blocks(Number(process.env.ENGRAM_WARMUP), false);
  await blocks(calls, true);
  echo.close();
  health.close();
  engram.close();
  process.send!(result, () => process.exit(0));
}

function report(count: number, calls: number, warmup: number, search: number[], r: ClientResult): void {
  const p = (xs: number[], q: number) => quantile(xs, q);
  const row = (name: string, xs: number[]) => `| ${name} | ${p(xs, 0.5).toFixed(3)} | ${p(xs, 0.99).toFixed(3)} |`;
  console.log(`recall floor: ${count} vectors of ${DIMENSION} dims in one space (balanced profile, hnswlib ${hnswBuild.build}), ${calls} calls each after ${warmup} of each to warm up, k = 10`);
  console.log('| what | p50 (ms) | p99 (ms) |');
  console.log('|---|---|---|');
  console.log(row('grpc-js unary echo, client in another process', r.echoMs));
  console.log(row('searchKnn on the same data, in-process', search));
  const floor50 = p(r.echoMs, 0.5) + p(search, 0.5);
  const floor99 = p(r.echoMs, 0.99) + p(search, 0.99);
  console.log(`| floor: echo + search | ${floor50.toFixed(3)} | ${floor99.toFixed(3)} |`);
  console.log(row('engine health check (same server and connection, no work)', r.healthMs));
  console.log(row('engine recall, client in another process', r.recallMs));
  const add50 = p(r.recallMs, 0.5) - floor50;
  const add99 = p(r.recallMs, 0.99) - floor99;
  console.log(`the engine adds ${add50.toFixed(3)} ms at p50 (target at most 0.5) and ${add99.toFixed(3)} ms at p99 (target at most 1)`);
  console.log(`of which its server before any work (health check - echo): ${(p(r.healthMs, 0.5) - p(r.echoMs, 0.5)).toFixed(3)} ms p50, ${(p(r.healthMs, 0.99) - p(r.echoMs, 0.99)).toFixed(3)} ms p99; the recall path beyond the search (recall - health - search): ${(p(r.recallMs, 0.5) - p(r.healthMs, 0.5) - p(search, 0.5)).toFixed(3)} ms p50`);
  // the floor of a recall at its own pace: a bare server searching on its event loop, and on a worker thread
  console.log(row('bare grpc-js server: the query searched on its event loop, neighbours answered', r.inlineMs));
  console.log(row('bare grpc-js server: the query searched on a worker thread, neighbours answered', r.onWorkerMs));
  console.log(`over that floor the engine adds ${(p(r.recallMs, 0.5) - p(r.onWorkerMs, 0.5)).toFixed(3)} ms at p50 and ${(p(r.recallMs, 0.99) - p(r.onWorkerMs, 0.99)).toFixed(3)} ms at p99; the worker and a cold search cost the bare server ${(p(r.onWorkerMs, 0.5) - p(r.echoMs, 0.5)).toFixed(3)} ms p50 over echo, against ${p(search, 0.5).toFixed(3)} for a search in a loop`);
}

