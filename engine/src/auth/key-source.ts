// Where the engine's keys come from: a key file (YAML or JSON), read at start and again whenever it
// changes, so a key added, rotated or revoked takes effect without a restart (on Kubernetes the
// file is a mounted Secret, which the kubelet updates in place). The operator may also install a
// key document directly (Admin.SetKeys) to make a rotation take effect at once; whichever came
// last is in force. A document that fails to parse is refused and the keys in force stay.
import { createHash } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import yaml from 'js-yaml';
import { EngramError, toEngramError } from '../errors.js';
import type { Logger } from '../log.js';
import { CredentialSet, parseKeyDocument } from './credentials.js';

/** How often the key file is checked for changes. */
export const KEY_FILE_POLL_MS = 1000;

export class KeySource {
  private set: CredentialSet;
  private hash: string;

  private constructor(text: string, private readonly log: Logger, private readonly path: string) {
    this.set = KeySource.parse(text, path);
    this.hash = keyDocumentHash(text);
  }

  /** Reads the key file (refusing to start on a bad one) and watches it for changes. */
  static fromFile(path: string, log: Logger): KeySource {
    const keys = new KeySource(readKeyFile(path), log, path);
    watchFile(path, { interval: KEY_FILE_POLL_MS, persistent: false }, () => keys.reload());
    log.info('API keys loaded', { file: path, ...keys.describe() });
    return keys;
  }

  private static parse(text: string, source: string): CredentialSet {
    let doc: unknown;
    try {
      doc = yaml.load(text);
    } catch (e) {
      throw new EngramError('INVALID_CREDENTIALS_FILE', `${source}: not YAML or JSON (${(e as Error).message.split('\n')[0]})`);
    }
    return new CredentialSet(parseKeyDocument(doc, source));
  }

  get credentials(): CredentialSet {
    return this.set;
  }

  /** A hash of the document in force (what the operator compares with the one it wants). */
  get documentHash(): string {
    return this.hash;
  }

  /** Installs a key document sent by the operator; refused (keys unchanged) when invalid. */
  install(text: string): void {
    this.set = KeySource.parse(text, 'the key document');
    this.hash = keyDocumentHash(text);
    this.log.info('API keys installed', this.describe());
  }

  private reload(): void {
    try {
      const text = readKeyFile(this.path);
      if (keyDocumentHash(text) === this.hash) return;
      this.set = KeySource.parse(text, this.path);
      this.hash = keyDocumentHash(text);
      this.log.info('API keys reloaded', { file: this.path, ...this.describe() });
    } catch (e) {
      this.log.error('API key file not reloaded: the keys in force stay', { file: this.path, error: toEngramError(e).message });
    }
  }

  private describe(): Record<string, unknown> {
    return { keys: this.set.size, byRole: this.set.summary() };
  }

  close(): void {
    unwatchFile(this.path);
  }
}

function readKeyFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new EngramError('INVALID_CREDENTIALS_FILE', `${path}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** What an engine reports as its key document's hash (Admin.GetConfig keys_hash). */
export function keyDocumentHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
