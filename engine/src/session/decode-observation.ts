// Checks one wire observation and turns it into what the queue holds, or says precisely why not.
// Sizes are counted in UTF-8 bytes, as they are stored and sent back: a limit in characters would
// let four times as much through in some scripts.
import type { HnswConfig } from '../config/engine-config.js';
import { isEngramError } from '../errors.js';
import type { Observation__Output } from '../generated/engram/v1/Observation.js';
import { checkComparable, decodeVector } from '../wire/vector-codec.js';

export const OBSERVATION_LIMITS = {
  idBytes: 256,
  contentBytes: 64 * 1024,
  metadataEntries: 64,
  metadataKeyBytes: 256,
  /** Keys and values of one observation's metadata together. */
  metadataBytes: 64 * 1024,
} as const;

export type Decoded =
  | { ok: true; id: string; vector: Float32Array; content: string; metadata: Record<string, string> | null }
  | { ok: false; reason: string };

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Why an observation's id, content or metadata (`entries`) is over a limit, or null. */
function sizeProblem(o: Observation__Output, entries: Array<[string, string]>): string | null {
  const L = OBSERVATION_LIMITS;
  if (!o.id) return 'observation id is empty';
  const idBytes = bytes(o.id);
  if (idBytes > L.idBytes) return `observation id is ${idBytes} bytes; at most ${L.idBytes}`;
  const contentBytes = bytes(o.content);
  if (contentBytes > L.contentBytes) return `content is ${contentBytes} bytes (UTF-8); at most ${L.contentBytes}`;
  if (entries.length > L.metadataEntries) return `metadata has ${entries.length} entries; at most ${L.metadataEntries}`;
  let total = 0;
  for (const [key, value] of entries) {
    const keyBytes = bytes(key);
    if (keyBytes > L.metadataKeyBytes) return `a metadata key is ${keyBytes} bytes; at most ${L.metadataKeyBytes}`;
    total += keyBytes + bytes(value);
  }
  if (total > L.metadataBytes) return `metadata is ${total} bytes (keys and values, UTF-8); at most ${L.metadataBytes}`;
  return null;
}

export function decodeObservation(o: Observation__Output, hnsw: Pick<HnswConfig, 'dimension' | 'metric'>): Decoded {
  const entries = Object.entries(o.metadata);
  const problem = sizeProblem(o, entries);
  if (problem) return { ok: false, reason: problem };
  try {
    const vector = checkComparable(decodeVector(o.embedding, hnsw.dimension), hnsw.metric);
    return { ok: true, id: o.id, vector, content: o.content, metadata: entries.length > 0 ? o.metadata : null };
  } catch (e) {
    if (isEngramError(e)) return { ok: false, reason: e.message };
    throw e;
  }
}
