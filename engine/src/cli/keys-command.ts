// `engram keys create|revoke|list`: edits an engine's key file. A new key is printed once and only
// its SHA-256 is written; a running engine picks the change up within a second or two.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { hashKey, newKey, parseKeyDocument, ROLES, type KeyEntry, type Role } from '../auth/credentials.js';
import { EngramError } from '../errors.js';

export interface KeysFlags {
  action: 'create' | 'revoke' | 'list';
  keysFile: string;
  id?: string | undefined;
  role?: string | undefined;
  tenant?: string | undefined;
  /** e.g. 90d, 12h, 30m */
  expiresIn?: string | undefined;
  now?: () => number;
  write?: (text: string) => void;
}

function readKeys(path: string): KeyEntry[] {
  if (!existsSync(path)) return [];
  return parseKeyDocument(yaml.load(readFileSync(path, 'utf8')) ?? { keys: [] }, path);
}

/** Writes the whole file at once (a rename), so a watching engine never reads half of it. */
function writeKeys(path: string, keys: KeyEntry[]): void {
  const text = `# Engram API keys: SHA-256 hashes only (engram keys create prints each key once)\n${yaml.dump({ keys })}`;
  writeFileSync(`${path}.tmp`, text, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

export function parseDuration(text: string): number {
  const match = /^(\d+)(d|h|m)$/.exec(text);
  if (!match) throw new EngramError('INVALID_ARGUMENT', `--expires-in takes a number of days, hours or minutes (90d, 12h, 30m), got '${text}'`);
  return Number(match[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[match[2] as 'd' | 'h' | 'm'];
}

export function keysCommand(flags: KeysFlags): void {
  const write = flags.write ?? ((t: string) => process.stdout.write(t));
  const keys = readKeys(flags.keysFile);
  if (flags.action === 'list') {
    for (const k of keys) write(`${k.id}\t${k.role}${k.tenant ? `\t${k.tenant}` : ''}${k.expiresAt ? `\texpires ${k.expiresAt}` : ''}\n`);
    return;
  }
  if (!flags.id) throw new EngramError('INVALID_ARGUMENT', `keys ${flags.action} needs --id`);
  if (flags.action === 'revoke') {
    if (!keys.some((k) => k.id === flags.id)) throw new EngramError('INVALID_ARGUMENT', `no key '${flags.id}' in ${flags.keysFile}`);
    writeKeys(flags.keysFile, keys.filter((k) => k.id !== flags.id));
    write(`revoked ${flags.id}\n`);
    return;
  }
  if (!ROLES.includes(flags.role as Role)) throw new EngramError('INVALID_ARGUMENT', `--role must be one of ${ROLES.join(', ')}`);
  if (keys.some((k) => k.id === flags.id)) throw new EngramError('INVALID_ARGUMENT', `${flags.keysFile} already has a key '${flags.id}': revoke it first, or pick another id`);
  const key = newKey();
  const entry: KeyEntry = {
    id: flags.id, role: flags.role as Role, sha256: hashKey(key),
    ...(flags.tenant ? { tenant: flags.tenant } : {}),
    ...(flags.expiresIn ? { expiresAt: new Date((flags.now ?? Date.now)() + parseDuration(flags.expiresIn)).toISOString() } : {}),
  };
  // validated as the engine will read it, before anything is written
  const next = parseKeyDocument({ keys: [...keys, entry] }, flags.keysFile);
  writeKeys(flags.keysFile, next);
  write(`${key}\n`);
}
