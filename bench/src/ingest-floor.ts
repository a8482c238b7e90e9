// `npm run bench:ingest-floor`: accepted ingest against its floor on this machine, the same burst
// sent the same way to four servers in one run:
//   1. a bare grpc-js server on the engine's ObserveStream path that reads each message as bytes
//      and answers it with a fixed reply (HTTP/2 and grpc-js framing, nothing else);
//   2. the same with the engine's decoding of every message and a real AckBatch reply;
//   3. the same again, each batch's vectors copied and checked as the engine does and appended to
//      the engine's own write-ahead log, acked once synced: the floor of durable ingest, with no
//      admission, queue or indexing;
//   4. the engine with no data directory (admission, queueing, acks; indexing runs behind);
//   5. the engine with its log synced per batch (the default).
// The load generator is a process of its own that encodes every batch before the clock starts and
// then only writes bytes (the cheapest client there is: what a Go generator would cost), so what is
// measured is the servers. Each server's CPU time is read from /proc over the timed part, by kind of
// thread, and divided by the observations: the main thread's share bounds the rate a single event
// loop can reach, the total the rate two cores can. Targets are interleaved over rounds; medians are quoted.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { availableParallelism, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { raiseFlowControlWindows } from '@engram/engine/flow-control-window';
import { ClusteredVectors } from '@engram/engine/synthetic';
import { startEngine, threadUsage, withEngineTunables, type EngineProcess } from '@engram/engine/testing';
import { WriteAheadLog } from '@engram/engine/wal';
import { decodeVector, loadEngramProto, withFastObservationBatches } from '@engram/engine/wire';
import { commandLine } from './command-line.js';
import { median } from './quantiles.js';

const DIMENSION = 768;
const OBSERVE_PATH = '/engram.v1.Streaming/ObserveStream';
const identity = (b: Buffer) => b;
const observeMethod = () => loadEngramProto().engram.v1.Streaming.service.ObserveStream;

type Sink = 'raw-sink' | 'decoding-sink' | 'log-sink';
type Role = Sink | 'client';
interface Plan { address: string; count: number; streams: number; batch: number; inFlight: number }
interface ClientResult { seconds: number; observations: number; rejected: number; cpuSeconds: number }

interface Target { name: string; start(count: number): Promise<Server> }
interface Server { address: string; pid: number; stop(): Promise<void> }

const TARGETS: Target[] = [
  { name: 'grpc-js, bytes only (fixed reply)', start: () => startSink('raw-sink') },
  { name: 'grpc-js + the engine\'s decoding and ack', start: () => startSink('decoding-sink') },
  { name: 'grpc-js + decoding + the engine\'s log, synced per batch', start: () => startSink('log-sink') },
  { name: 'engine, no data directory', start: (count) => startEngineTarget(count, ['--ephemeral']) },
  { name: 'engine, log synced per batch', start: (count) => startEngineTarget(count, ['--set', 'durability.syncPolicy=batch']) },
];

interface Row {
  observations: number;
  rate: number;
  serverUs: number;
  mainUs: number;
  clientUs: number;
  rejected: number;
  /** CPU us per observation by kind of thread (main, index workers, other threads). */
  threads: Record<string, number>;
}

async function main(count: number, streams: number, batch: number, rounds: number, out: string): Promise<void> {
  console.log(`Ingest floor: ${count} observations x ${DIMENSION} dims over ${streams} streams, batches of ${batch}, ${rounds} rounds; ${availableParallelism()} cores; node ${process.version}`);
  const rows = new Map(TARGETS.map((t) => [t.name, [] as Row[]]));
  for (let round = 1; round <= rounds; round++) {
    for (const target of TARGETS) {
      const server = await target.start(count);
      try {
        const row = await measure(server, { address: server.address, count, streams, batch, inFlight: Math.max(1, Math.floor(4096 / batch)) });
        rows.get(target.name)!.push(row);
        console.log(`round ${round}, ${target.name}: ${row.rate.toFixed(0)} obs/s; CPU per observation: server ${row.serverUs.toFixed(1)} us (main thread ${row.mainUs.toFixed(1)}), client ${row.clientUs.toFixed(1)} us; by thread ${Object.entries(row.threads).map(([k, v]) => `${k} ${v}`).join(', ')}${row.rejected ? `; ${row.rejected} REJECTED` : ''}`);
      } finally {
        await server.stop();
      }
    }
  }
  const floor = median(rows.get(TARGETS[0]!.name)!.map((r) => r.rate));
  console.log('\n| server | accepted obs/s (median) | vs bytes-only grpc-js | server CPU us/obs | of which main thread | index workers | other threads (GC, libuv) | one core at the main thread\'s cost, obs/s | client CPU us/obs |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const [name, rs] of rows) {
    const rate = median(rs.map((r) => r.rate));
    const main = median(rs.map((r) => r.mainUs));
    const kind = (k: string) => median(rs.map((r) => r.threads[k] ?? 0)).toFixed(1);
    console.log(`| ${name} | ${rate.toFixed(0)} | ${(rate / floor).toFixed(2)} | ${median(rs.map((r) => r.serverUs)).toFixed(1)} | ${main.toFixed(1)} | ${kind('index workers')} | ${kind('other threads')} | ${(1e6 / main).toFixed(0)} | ${median(rs.map((r) => r.clientUs)).toFixed(1)} |`);
  }
  const rejected = [...rows.values()].flat().reduce((n, r) => n + r.rejected, 0);
  if (rejected > 0) console.log(`\n${rejected} observations were REJECTED: the queue did not hold the burst; the rates above are not accepted-ingest rates`);
  console.log('\ntarget: 60,000 obs/s accepted with the log synced per batch');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ observations: count, streams, batch, rounds, targets: Object.fromEntries(rows) }, null, 2));
}

/** CPU seconds by kind of thread, named as the table names them. */
function cpuByThreadKind(pid: number): Map<string, number> {
  const usage = threadUsage(pid);
  return new Map([['main', usage.main], ['index workers', usage.indexWorkers], ['other threads', usage.other]]);
}

/** Runs the client: it encodes and connects, then the clock and the server's CPU counters start. */
async function measure(server: Server, plan: Plan): Promise<Row> {
  const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, ENGRAM_INGEST_ROLE: 'client', ENGRAM_PLAN: JSON.stringify(plan) } });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`load generator exited with ${code}`))));
  await Promise.race([new Promise((resolve) => child.once('message', resolve)), exited]);
  const before = cpuByThreadKind(server.pid);
  child.send('go');
  const result = await Promise.race([new Promise<ClientResult>((resolve) => child.once('message', (m) => resolve(m as ClientResult))), exited]);
  const after = cpuByThreadKind(server.pid);
  child.kill();
  const n = result.observations;
  const threads: Record<string, number> = {};
  for (const [kind, seconds] of after) threads[kind] = Number((((seconds - (before.get(kind) ?? 0)) / n) * 1e6).toFixed(1));
  const serverUs = Object.values(threads).reduce((a, b) => a + b, 0);
  return { observations: n, rate: n / result.seconds, serverUs, mainUs: threads.main ?? 0, clientUs: (result.cpuSeconds / n) * 1e6, rejected: result.rejected, threads };
}

async function startEngineTarget(count: number, args: string[]): Promise<Server> {
  // The queue holds the whole burst: what is measured is taking observations, not indexing them.
  const engine: EngineProcess = await startEngine({ 'queue.capacity': Math.ceil(count * 1.3) }, ['--profile', 'high-throughput', ...args]);
  return { address: engine.address, pid: engine.process.pid!, stop: async () => void (await engine.stop('SIGKILL')) };
}

/** A sink in a process of its own, with the engine's allocator settings and a scratch data directory. */
function startSink(as: Sink): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), 'engram-ingest-floor-'));
  const env = withEngineTunables({ ...process.env, ENGRAM_INGEST_ROLE: as, ENGRAM_SINK_DATA_DIR: dataDir });
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [], { env });
  return new Promise((resolve) => child.once('message', (m) => resolve({
    address: (m as { address: string }).address, pid: child.pid!,
    stop: () => new Promise<void>((done) => {
      child.once('exit', () => {
        rmSync(dataDir, { recursive: true, force: true });
        done();
      });
      child.kill();
    }),
  })));
}

type DecodedMessage = {
  init?: { memorySpace: string };
  observations?: { observations: Array<{ id: string; embedding: Buffer; content: string; sequence: number }>; batchId: number };
};

/** What a sink does with one decoded batch before it acks it as ACCEPTED: nothing, or log it durably. */
async function batchAcceptor(as: Sink): Promise<(space: string, batch: NonNullable<DecodedMessage['observations']>) => Promise<void>> {
  if (as !== 'log-sink') return async () => undefined;
  const quiet = { info() {}, warn() {}, error() {} };
  const wal = await WriteAheadLog.open({
    dir: process.env.ENGRAM_SINK_DATA_DIR!, syncPolicy: 'batch', syncIntervalMs: 100, segmentBytes: 64 * 1024 * 1024, nextLsn: 1,
    log: quiet, metrics: { written() {}, synced() {}, failed() {} },
  });
  // as the engine does: each vector copied and checked, then logged
  return (space, batch) => wal.append(batch.observations.map((o) => ({
    space, id: o.id, content: o.content, metadata: null, vector: decodeVector(o.embedding, DIMENSION),
  }))).committed;
}

/**
 * A grpc-js server on the engine's ObserveStream path, with the engine's message size limit and
 * HTTP/2 windows. `raw-sink` answers every message with the same bytes; `decoding-sink` decodes
 * each as the engine does and acks the batch's sequence numbers as ACCEPTED; `log-sink` acks them
 * once the engine's write-ahead log has them on disk (group commit, fdatasync, as the engine).
 */
async function sink(as: Sink): Promise<void> {
  const method = observeMethod();
  const decoding = as !== 'raw-sink';
  const accept = await batchAcceptor(as);
  const fixedReply = method.responseSerialize({ acks: { acks: [], inReplyTo: 1 } });
  const handler = (call: grpc.ServerDuplexStream<unknown, unknown>) => {
    let space = '';
    call.on('data', (message: DecodedMessage | Buffer) => {
      if (!decoding) return void call.write(fixedReply);
      const m = message as DecodedMessage;
      if (m.init) {
        space = m.init.memorySpace;
        return void call.write({ initAck: { sessionId: 'sink', nextSequence: 1 } });
      }
      const batch = m.observations!;
      const list = batch.observations;
      void accept(space, batch).then(() => call.write({ acks: { acks: [{ status: 'ACCEPTED', firstSequence: list[0]!.sequence, lastSequence: list.at(-1)!.sequence }], inReplyTo: batch.batchId } }));
    });
    call.on('end', () => call.end());
  };
  const definition = decoding
    ? withFastObservationBatches({ ObserveStream: method } as unknown as grpc.ServiceDefinition)
    : { ObserveStream: { ...method, requestDeserialize: identity, responseSerialize: identity } } as unknown as grpc.ServiceDefinition;
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.max_send_message_length': 64 * 1024 * 1024 });
  server.addService(definition, { ObserveStream: handler });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  raiseFlowControlWindows(server);
  process.once('SIGTERM', () => process.exit(0)); // an orderly exit, so --cpu-prof can write its profile
  process.send!({ address: `127.0.0.1:${port}` });
}

/** Every stream's messages, encoded before the clock starts: its init, then its batches. */
function encodeStreams(plan: Plan): Buffer[][] {
  const method = observeMethod();
  const vectors = new ClusteredVectors({ dimension: DIMENSION, seed: 11, clusters: 64 }).take(Math.min(plan.count, 5000));
  const perStream = Math.floor(plan.count / plan.streams);
  return Array.from({ length: plan.streams }, (_, s) => {
    const messages = [method.requestSerialize({ init: { memorySpace: `ingest-${s}`, honoursBackpressure: false, maxBatchSize: plan.batch, clientBufferSize: plan.batch * plan.inFlight } })];
    for (let first = 0, batchId = 1; first < perStream; first += plan.batch, batchId++) {
      const observations = [];
      for (let i = first; i < Math.min(perStream, first + plan.batch); i++) {
        const v = vectors[(s * perStream + i) % vectors.length]!;
        observations.push({ id: `o-${s}-${i}`, embedding: Buffer.from(v.buffer, v.byteOffset, v.byteLength), content: '', sequence: i + 1, timestampMs: 0 });
      }
      messages.push(method.requestSerialize({ observations: { observations, batchId } }));
    }
    return messages;
  });
}

/** Sends each stream's batches keeping `inFlight` unanswered; counts what the replies accept. */
async function client(plan: Plan): Promise<void> {
  const streams = encodeStreams(plan);
  const method = observeMethod();
  const channel = new grpc.Client(plan.address, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 * 1024 * 1024 });
  const calls = streams.map(() => channel.makeBidiStreamRequest(OBSERVE_PATH, identity, identity));
  // connect and open every stream (its init and the reply) before the clock starts
  await Promise.all(calls.map((call, s) => new Promise((resolve) => {
    call.once('data', resolve);
    call.write(streams[s]![0]!);
  })));
  const go = new Promise((resolve) => process.once('message', resolve));
  process.send!('ready');
  await go;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  let observations = 0;
  let rejected = 0;
  const perStream = Math.floor(plan.count / plan.streams);
  await Promise.all(calls.map((call, s) => new Promise<void>((resolve, reject) => {
    const batches = streams[s]!.slice(1);
    let sent = 0;
    let answered = 0;
    const onReply = (bytes: Buffer) => {
      const reply = method.responseDeserialize(bytes) as { acks?: { acks: Array<{ status: string; firstSequence: number; lastSequence: number }>; inReplyTo: number } };
      if (!reply.acks || reply.acks.inReplyTo === 0) return; // INDEXED acks, status and flow messages
      answered++;
      for (const ack of reply.acks.acks) {
        const n = ack.lastSequence - ack.firstSequence + 1;
        if (ack.status === 'ACCEPTED') observations += n;
        else rejected += n;
      }
      // the bytes-only sink's fixed reply acks nothing by name: count the batch it answers
      if (reply.acks.acks.length === 0) observations += Math.min(plan.batch, perStream - (answered - 1) * plan.batch);
      if (answered === batches.length) return resolve();
      pump();
    };
    call.on('data', onReply);
    call.on('error', reject);
    const pump = () => {
      while (sent < batches.length && sent - answered < plan.inFlight) call.write(batches[sent++]!);
    };
    pump();
  })));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  for (const call of calls) call.end();
  channel.close();
  process.send!({ seconds, observations, rejected, cpuSeconds: (cpu.user + cpu.system) / 1e6 } satisfies ClientResult, () => process.exit(0));
}

// Last, so every constant above exists when a role starts.
const role = process.env.ENGRAM_INGEST_ROLE as Role | undefined;
if (role === 'raw-sink' || role === 'decoding-sink' || role === 'log-sink') void sink(role);
else if (role === 'client') void client(JSON.parse(process.env.ENGRAM_PLAN!) as Plan);
else {
  const args = commandLine({
    observations: { type: 'string', default: '60000' },
    streams: { type: 'string', default: '8' },
    batch: { type: 'string', default: '512' },
    rounds: { type: 'string', default: '3' },
    out: { type: 'string', default: 'bench/results/ingest-floor.json' },
  }, {
    description: 'Accepted ingest against its floor: the same pre-encoded burst to a bare grpc-js server, one that decodes, one that decodes and logs durably, the engine without and with its log; CPU per observation of each.',
    help: { observations: 'observations in each burst', streams: 'streams (memory spaces) they are spread over', batch: 'observations per batch', rounds: 'rounds of every target', out: 'where the JSON results go' },
  });
  main(Number(args.observations), Number(args.streams), Number(args.batch), Number(args.rounds), args.out).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
