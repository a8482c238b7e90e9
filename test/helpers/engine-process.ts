// Starts a real engine process (the built CLI, `engram serve`) on free loopback ports and stops it
// when the test is done, also when the test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EngramClient } from '../../engine/dist/client/index.js';

export const ENGRAM_CLI = fileURLToPath(new URL('../../engine/dist/cli/main.js', import.meta.url));

export interface EngineProcess {
  address: string;
  httpUrl: string;
  process: ChildProcess;
  logs: string[];
  client(): EngramClient;
  metrics(): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `config` keys become `--set key=value` flags (values as JSON). */
export async function startEngine(config: Record<string, unknown> = {}, extraArgs: string[] = []): Promise<EngineProcess> {
  const sets = Object.entries(config).flatMap(([k, v]) => ['--set', `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`]);
  const child = spawn(process.execPath, [ENGRAM_CLI, 'serve', '--port', '0', '--http-port', '0', ...sets, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
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
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const address = `127.0.0.1:${ports.grpcPort}`;
  const httpUrl = `http://127.0.0.1:${ports.httpPort}`;
  return {
    address,
    httpUrl,
    process: child,
    logs,
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
