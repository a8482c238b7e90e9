// How the CLI's client commands reach an engine: --address, an API key (ENGRAM_API_KEY, or
// --api-key-file; never a flag of its own, which would show in `ps`), and TLS.
import { readFileSync } from 'node:fs';
import type { ClientOptions } from '../client/engram-client.js';
import { EngramError } from '../errors.js';

export interface ConnectionFlags {
  address: string;
  apiKeyFile?: string | undefined;
  tls: boolean;
  tlsCa?: string | undefined;
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  tlsServerName?: string | undefined;
}

export interface Connection {
  address: string;
  options: ClientOptions;
}

function readFlagFile(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new EngramError('INVALID_ARGUMENT', `--${flag} ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

export function connectionOf(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): Connection {
  const apiKey = flags.apiKeyFile ? readFlagFile('api-key-file', flags.apiKeyFile).toString('utf8').trim() : env.ENGRAM_API_KEY?.trim();
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) throw new EngramError('INVALID_ARGUMENT', '--tls-cert and --tls-key go together');
  const tls = flags.tls || flags.tlsCa !== undefined || flags.tlsCert !== undefined;
  return {
    address: flags.address,
    options: {
      ...(apiKey ? { apiKey } : {}),
      ...(tls ? {
        tls: {
          ...(flags.tlsCa ? { ca: readFlagFile('tls-ca', flags.tlsCa) } : {}),
          ...(flags.tlsCert ? { cert: readFlagFile('tls-cert', flags.tlsCert) } : {}),
          ...(flags.tlsKey ? { key: readFlagFile('tls-key', flags.tlsKey) } : {}),
          ...(flags.tlsServerName ? { serverName: flags.tlsServerName } : {}),
        },
      } : {}),
    },
  };
}
