// Checks one wire observation and turns it into what the queue holds, or says precisely why not.
import { isEngramError } from '../errors.js';
import type { Observation__Output } from '../generated/engram/v1/Observation.js';
import { decodeVector } from '../wire/vector-codec.js';

const MAX_ID_LENGTH = 256;
const MAX_CONTENT_BYTES = 64 * 1024;
const MAX_METADATA_ENTRIES = 64;

export type Decoded =
  | { ok: true; id: string; vector: Float32Array; content: string; metadata: Record<string, string> | null }
  | { ok: false; reason: string };

export function decodeObservation(o: Observation__Output, dimension: number): Decoded {
  if (!o.id) return { ok: false, reason: 'observation id is empty' };
  if (o.id.length > MAX_ID_LENGTH) return { ok: false, reason: `observation id is ${o.id.length} characters; at most ${MAX_ID_LENGTH}` };
  if (o.content.length > MAX_CONTENT_BYTES) return { ok: false, reason: `content is ${o.content.length} characters; at most ${MAX_CONTENT_BYTES}` };
  const keys = Object.keys(o.metadata);
  if (keys.length > MAX_METADATA_ENTRIES) return { ok: false, reason: `metadata has ${keys.length} entries; at most ${MAX_METADATA_ENTRIES}` };
  try {
    const vector = decodeVector(o.embedding, dimension);
    return { ok: true, id: o.id, vector, content: o.content, metadata: keys.length > 0 ? o.metadata : null };
  } catch (e) {
    if (isEngramError(e)) return { ok: false, reason: e.message };
    throw e;
  }
}
