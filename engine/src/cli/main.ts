#!/usr/bin/env node
// engram: serve an engine, stream observations into it, recall, read stats, change its config.
import { parseArgs } from 'node:util';
import { isEngramError } from '../errors.js';
import { observeCommand } from './observe-command.js';
import { configCommand, recallCommand, statsCommand } from './query-commands.js';
import { serveCommand } from './serve-command.js';
import { connectionOf, type Connection } from './connection-flags.js';
import { keysCommand } from './keys-command.js';
import type { SecurityOptions } from '../serve.js';

const USAGE = `usage: engram <command> [flags]

  serve     [--profile balanced] [--config FILE.yaml] [--set key=value]... [--host 127.0.0.1]
            [--port 50051] [--http-port 9464] [--max-message-bytes N] [--max-batch N]
            [--shutdown-deadline-ms 30000] [--scratch-dir DIR]
            [--data-dir DIR (default $ENGRAM_DATA_DIR or ./engram-data) | --ephemeral]
            [--enable-fault-injection] [--member-name POD]
            (--keys-file KEYS.yaml | --insecure)
            [--tls-cert FILE --tls-key FILE [--tls-ca FILE] [--tls-require-client-cert] [--tls-http]]
  observe   --space NAME (--generate N | --file FILE.jsonl) [--batch 256] [--seed 42] [--tenant T]
  recall    --space NAME (--vector JSON|@FILE | --random [--seed 42]) [--k 10] [--ef 0]
            [--min-similarity S] [--json]
  stats
  config    get | apply PATCH_JSON|@FILE [--dry-run]
  keys      create --keys-file F --id ID --role admin|tenant|metrics [--tenant T] [--expires-in 90d]
            | revoke --keys-file F --id ID | list --keys-file F

  every client command takes --address HOST:PORT (default 127.0.0.1:50051), the API key in
  $ENGRAM_API_KEY or --api-key-file FILE, and for TLS --tls (system roots) or --tls-ca FILE,
  [--tls-cert FILE --tls-key FILE] (client certificate), [--tls-server-name NAME]
`;

const FLAGS = {
  address: { type: 'string', default: '127.0.0.1:50051' },
  profile: { type: 'string' },
  config: { type: 'string' },
  set: { type: 'string', multiple: true },
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '50051' },
  'http-port': { type: 'string', default: '9464' },
  'max-message-bytes': { type: 'string', default: String(16 * 1024 * 1024) },
  'max-batch': { type: 'string', default: '4096' },
  'shutdown-deadline-ms': { type: 'string', default: '30000' },
  'scratch-dir': { type: 'string' },
  'data-dir': { type: 'string' },
  ephemeral: { type: 'boolean', default: false },
  'enable-fault-injection': { type: 'boolean', default: false },
  'member-name': { type: 'string' },
  'keys-file': { type: 'string' },
  insecure: { type: 'boolean', default: false },
  'api-key-file': { type: 'string' },
  tls: { type: 'boolean', default: false },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-server-name': { type: 'string' },
  'tls-require-client-cert': { type: 'boolean', default: false },
  'tls-http': { type: 'boolean', default: false },
  id: { type: 'string' },
  role: { type: 'string' },
  'expires-in': { type: 'string' },
  space: { type: 'string' },
  file: { type: 'string' },
  generate: { type: 'string' },
  batch: { type: 'string', default: '256' },
  seed: { type: 'string', default: '42' },
  tenant: { type: 'string' },
  vector: { type: 'string' },
  random: { type: 'boolean', default: false },
  k: { type: 'string', default: '10' },
  ef: { type: 'string', default: '0' },
  'min-similarity': { type: 'string' },
  json: { type: 'boolean', default: false },
  'dry-run': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function int(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got '${value}'`);
  return n;
}

class UsageError extends Error {}

function dataDir(flag: string | undefined, ephemeral: boolean): string | null {
  if (flag && ephemeral) throw new UsageError('--data-dir and --ephemeral exclude each other');
  if (ephemeral) return null;
  return flag ?? process.env.ENGRAM_DATA_DIR ?? 'engram-data';
}

type Flags = ReturnType<typeof parseArgs<{ options: typeof FLAGS; allowPositionals: true; strict: true }>>['values'];

/** Authentication must be chosen: a key file, or --insecure for local development. */
function security(f: Flags): SecurityOptions {
  if (f['keys-file'] && f.insecure) throw new UsageError('--keys-file and --insecure exclude each other');
  if (!f['keys-file'] && !f.insecure) throw new UsageError('serve needs --keys-file KEYS.yaml (create keys with `engram keys create`), or --insecure to run without authentication (local development only)');
  if ((f['tls-cert'] === undefined) !== (f['tls-key'] === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  const tls = f['tls-cert'] && f['tls-key']
    ? { certFile: f['tls-cert'], keyFile: f['tls-key'], ...(f['tls-ca'] ? { caFile: f['tls-ca'] } : {}), requireClientCert: f['tls-require-client-cert'], http: f['tls-http'] }
    : undefined;
  if (!tls && (f['tls-require-client-cert'] || f['tls-http'])) throw new UsageError('--tls-require-client-cert and --tls-http need --tls-cert and --tls-key');
  return { keysFile: f['keys-file'] ?? null, ...(tls ? { tls } : {}) };
}

function connection(f: Flags): Connection {
  return connectionOf({
    address: f.address, apiKeyFile: f['api-key-file'], tls: f.tls, tlsCa: f['tls-ca'], tlsCert: f['tls-cert'], tlsKey: f['tls-key'], tlsServerName: f['tls-server-name'],
  });
}

function required(name: string, value: string | undefined): string {
  if (!value) throw new UsageError(`--${name} is required`);
  return value;
}

async function main(argv: string[]): Promise<void> {
  const { values: f, positionals } = parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true });
  const [command, ...rest] = positionals;
  if (f.help || !command) {
    process.stdout.write(USAGE);
    return;
  }
  switch (command) {
    case 'serve':
      return serveCommand({
        ...(f.profile ? { profile: f.profile } : {}), ...(f.config ? { config: f.config } : {}), set: f.set ?? [],
        host: f.host, port: int('port', f.port), httpPort: int('http-port', f['http-port']),
        maxMessageBytes: int('max-message-bytes', f['max-message-bytes']), maxBatch: int('max-batch', f['max-batch']),
        shutdownDeadlineMs: int('shutdown-deadline-ms', f['shutdown-deadline-ms']),
        ...(f['scratch-dir'] ? { scratchDir: f['scratch-dir'] } : {}),
        dataDir: dataDir(f['data-dir'], f.ephemeral), faultInjection: f['enable-fault-injection'],
        ...(f['member-name'] ? { memberName: f['member-name'] } : {}),
        security: security(f),
      });
    case 'observe':
      return observeCommand({
        connection: connection(f), space: required('space', f.space), seed: int('seed', f.seed), batch: int('batch', f.batch),
        ...(f.file ? { file: f.file } : {}), ...(f.generate !== undefined ? { generate: int('generate', f.generate) } : {}),
        ...(f.tenant ? { tenant: f.tenant } : {}),
      });
    case 'recall':
      return recallCommand({
        connection: connection(f), space: required('space', f.space), random: f.random, seed: int('seed', f.seed),
        k: int('k', f.k), ef: int('ef', f.ef), json: f.json, ...(f.vector ? { vector: f.vector } : {}),
        ...(f['min-similarity'] !== undefined ? { minSimilarity: Number(f['min-similarity']) } : {}),
      });
    case 'stats':
      return statsCommand(connection(f));
    case 'config': {
      const [action, patch] = rest;
      if (action !== 'get' && action !== 'apply') throw new UsageError("config takes 'get' or 'apply PATCH'");
      return configCommand({ connection: connection(f), action, dryRun: f['dry-run'], ...(patch ? { patch } : {}) });
    }
    case 'keys': {
      const [action] = rest;
      if (action !== 'create' && action !== 'revoke' && action !== 'list') throw new UsageError("keys takes 'create', 'revoke' or 'list'");
      return keysCommand({ action, keysFile: required('keys-file', f['keys-file']), id: f.id, role: f.role, tenant: f.tenant, expiresIn: f['expires-in'] });
    }
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof UsageError || (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
    process.stderr.write(`engram: ${e.message}\n\n${USAGE}`);
    process.exit(2);
  }
  const grpcDetails = typeof e === 'object' && e !== null && 'details' in e ? String((e as { details: unknown }).details) : null;
  process.stderr.write(`engram: ${isEngramError(e) ? `${e.code}: ${e.message}` : grpcDetails ?? (e instanceof Error ? e.message : String(e))}\n`);
  process.exit(1);
});
