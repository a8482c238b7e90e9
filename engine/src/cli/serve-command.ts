// `engram serve`: an engine on this machine, configured by profile, file and --set overrides.
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { deepMerge, resolveStartConfig } from '../config/validate-config.js';
import { EngramError } from '../errors.js';
import { jsonLogger } from '../log.js';
import { serve, type SecurityOptions } from '../serve.js';

export interface ServeFlags {
  profile?: string;
  config?: string;
  set?: string[];
  host: string;
  port: number;
  httpPort: number;
  maxMessageBytes: number;
  maxBatch: number;
  shutdownDeadlineMs: number;
  scratchDir?: string;
  /** null: no data directory (everything in memory). */
  dataDir: string | null;
  faultInjection: boolean;
  /** This pod's name in a multi-pod stream: the engine then serves the spaces the operator's placement gives it. */
  memberName?: string;
  security: SecurityOptions;
}

/** `a.b=value` → { a: { b: value } }; the value is JSON if it parses, else a string. */
export function parseSet(assignments: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of assignments) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new EngramError('INVALID_CONFIG', `--set expects key=value, got '${a}'`);
    const path = a.slice(0, eq).split('.');
    const raw = a.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a bare string such as a profile name
    }
    let node = out;
    path.slice(0, -1).forEach((k) => {
      node[k] = typeof node[k] === 'object' && node[k] !== null ? node[k] : {};
      node = node[k] as Record<string, unknown>;
    });
    node[path[path.length - 1] as string] = value;
  }
  return out;
}

function readConfigFile(path: string): Record<string, unknown> {
  const parsed = yaml.load(readFileSync(path, 'utf8'));
  if (parsed === undefined || parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new EngramError('INVALID_CONFIG', `${path}: expected a mapping of config keys`);
  return parsed as Record<string, unknown>;
}

export async function serveCommand(flags: ServeFlags): Promise<void> {
  let patch = flags.config ? readConfigFile(flags.config) : {};
  if (flags.profile) patch = { ...patch, profile: flags.profile };
  patch = deepMerge(patch, parseSet(flags.set ?? []));
  const config = resolveStartConfig(patch);
  const log = jsonLogger('engine');
  const running = await serve({
    config, log, host: flags.host, grpcPort: flags.port, httpPort: flags.httpPort,
    maxMessageBytes: flags.maxMessageBytes, maxBatch: flags.maxBatch,
    ...(flags.scratchDir ? { scratchDir: flags.scratchDir } : {}), ...(flags.dataDir ? { dataDir: flags.dataDir } : {}),
    faultInjection: flags.faultInjection,
    ...(flags.memberName ? { memberName: flags.memberName } : {}),
    security: flags.security,
  });
  if (!flags.dataDir) log.warn('running without a data directory (--ephemeral): a crash loses every observation');
  const stop = (signal: string): void => {
    log.info('signal received', { signal });
    running.stop(flags.shutdownDeadlineMs).then(() => process.exit(0), (e: unknown) => {
      log.error('stop failed', { error: String(e) });
      process.exit(1);
    });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
