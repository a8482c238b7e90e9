// Starts a real engine process (the built CLI, `engram serve`) on free loopback ports, for tests
// and benchmarks; stops it on request (the caller stops it also when a test fails).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EngramClient } from '../client/engram-client.js';
import { HashRing } from '../pool/hash-ring.js';
import { withEngineTunables } from '../memory/malloc-tunables.js';

export { withEngineTunables };

export const ENGRAM_CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export interface EngineProcess {
  address: string;
  httpUrl: string;
  process: ChildProcess;
  logs: string[];
  /** Every JSON log line the engine wrote so far, parsed (stderr chunks split into lines). */
  logEntries(): Array<Record<string, unknown>>;
  /** The engine's data directory (null with --ephemeral). */
  dataDir: string | null;
  client(): EngramClient;
  metrics(): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * `config` keys become `--set key=value` flags (values as JSON). Without `--data-dir` or
 * `--ephemeral` in `extraArgs` the engine gets a fresh temporary data directory, removed on stop.
 */
export interface StartOptions {
  /** A command the engine is started through (it must exec its arguments), e.g. to enter a cgroup. */
  wrapper?: string[];
}

/**
 * ENGRAM_TEST_BACKEND=usearch runs every engine these helpers start on usearch at f16 (unless the
 * caller's config names a backend): `npm test` runs the engine and durability tests that touch
 * the index once per backend (`npm run test:usearch`).
 */
function backendUnderTest(config: Record<string, unknown>): Record<string, unknown> {
  const backend = process.env.ENGRAM_TEST_BACKEND;
  if (!backend || backend === 'hnswlib' || 'hnsw.backend' in config) return config;
  if (backend !== 'usearch') throw new Error(`ENGRAM_TEST_BACKEND must be hnswlib or usearch, got '${backend}'`);
  return { 'hnsw.backend': 'usearch', 'hnsw.quantization': 'f16', ...config };
}

export async function startEngine(config: Record<string, unknown> = {}, extraArgs: string[] = [], options: StartOptions = {}): Promise<EngineProcess> {
  const sets = Object.entries(backendUnderTest(config)).flatMap(([k, v]) => ['--set', `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`]);
  const given = extraArgs.indexOf('--data-dir');
  const ownDir = given < 0 && !extraArgs.includes('--ephemeral') ? mkdtempSync(join(tmpdir(), 'engram-data-')) : null;
  const dataDir = given >= 0 ? (extraArgs[given + 1] ?? null) : ownDir;
  const dirArgs = ownDir ? ['--data-dir', ownDir] : [];
  // Authentication off unless the test brings keys: most tests are about something else.
  if (!extraArgs.includes('--keys-file') && !extraArgs.includes('--insecure')) dirArgs.push('--insecure');
  const command = [...(options.wrapper ?? []), process.execPath, ENGRAM_CLI, 'serve', '--port', '0', '--http-port', '0', ...dirArgs, ...sets, ...extraArgs];
  const child = spawn(command[0]!, command.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: withEngineTunables(process.env),
  });
  const logs: string[] = [];
  child.stderr?.on('data', (d: Buffer) => logs.push(d.toString()));
  const clients: EngramClient[] = [];
  const ports = await new Promise<{ grpcPort: number; httpPort: number }>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      logs.push(line);
      try {
        const entry = JSON.parse(line) as { message?: string; grpcPort?: number; httpPort?: number };
        if (entry.message === 'engine listening') resolve({ grpcPort: entry.grpcPort!, httpPort: entry.httpPort! });
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code) => reject(new Error(`engine exited with ${code} before listening:\n${logs.join('\n')}`)));
  }).catch((e: unknown) => {
    if (ownDir) rmSync(ownDir, { recursive: true, force: true });
    throw e;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    if (ownDir) rmSync(ownDir, { recursive: true, force: true });
    resolve(code);
  }));
  const address = `127.0.0.1:${ports.grpcPort}`;
  const httpUrl = `http://127.0.0.1:${ports.httpPort}`;
  return {
    address,
    httpUrl,
    process: child,
    logs,
    logEntries: () => logs.flatMap((chunk) => chunk.split('\n')).flatMap((line) => {
      try {
        const entry: unknown = JSON.parse(line);
        return entry && typeof entry === 'object' ? [entry as Record<string, unknown>] : [];
      } catch {
        return []; // not a log line
      }
    }),
    dataDir,
    client: () => {
      const c = new EngramClient(address);
      clients.push(c);
      return c;
    },
    metrics: async () => (await fetch(`${httpUrl}/metrics`)).text(),
    stop: async (signal = 'SIGTERM') => {
      for (const c of clients) c.close();
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** CPU seconds (user + system) and resident memory of a process, read from /proc (Linux). */
export function processUsage(pid: number): { cpuSeconds: number; rssBytes: number; peakRssBytes: number } | null {
  try {
    const { cpuSeconds } = readStat(`/proc/${pid}/stat`);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { cpuSeconds, rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** Linux's USER_HZ, the unit of /proc/<pid>/stat times, is 100 on every mainstream architecture. */
const CLOCK_TICKS = 100;

/** CPU seconds (user + system) and nice value from a process's or thread's /proc stat file. */
function readStat(path: string): { cpuSeconds: number; nice: number } {
  const stat = readFileSync(path, 'utf8');
  // the fields after the name: utime and stime are the 12th and 13th, nice the 17th
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS, nice: Number(fields[16]) };
}

/** CPU seconds of an engine process by kind of thread (see `threadUsage`). */
export interface ThreadUsage { main: number; indexWorkers: number; other: number }

/**
 * CPU seconds of an engine process by kind of thread, from /proc (Linux): the main thread (the
 * event loop), the index workers (the only threads the engine runs at a positive nice value) and
 * the rest (V8's garbage-collection helpers, libuv's pool). A thread that ended is not counted.
 */
export function threadUsage(pid: number): ThreadUsage {
  const out: ThreadUsage = { main: 0, indexWorkers: 0, other: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`).map(Number)) {
    try {
      const { cpuSeconds, nice } = readStat(`/proc/${pid}/task/${tid}/stat`);
      out[tid === pid ? 'main' : nice > 0 ? 'indexWorkers' : 'other'] += cpuSeconds;
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/**
 * The first `count` memory space ids `${prefix}-0`, `${prefix}-1`, … that an engine with `workers`
 * workers places on `worker` (the same ring the engine uses): for tests and benchmarks of the
 * unlucky placement where busy spaces share one worker.
 */
export function spacesOnWorker(prefix: string, count: number, worker: number, workers: number): string[] {
  const ring = new HashRing(Array.from({ length: workers }, (_, i) => i));
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) if (ring.lookup(`${prefix}-${i}`) === worker) out.push(`${prefix}-${i}`);
  return out;
}
