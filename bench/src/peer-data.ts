// Where the peer benchmark's vectors come from: clustered gaussian vectors made from a seed (the
// default), or real sentence embeddings from a file that bench/scripts/embed-corpus.py writes
// (little-endian float32 rows, and a JSON description beside it). Clustered data can flatter or
// punish HNSW; embeddings of real text are what users store.
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { ClusteredVectors } from '@engram/engine/synthetic';
import { dot, normalised } from './recall-check.js';

/** What each part of a run writes or asks: disjoint, so no query is among what was written. */
export type Part = 'base' | 'queries' | 'other' | 'single' | 'batched';

export type PeerData =
  | { kind: 'clustered'; seed: number }
  /** `rows`: each part's rows of the file. */
  | { kind: 'file'; path: string; rows: Record<Part, number[]> };

/** Vectors handed out in order. */
export interface VectorSource {
  next(): Float32Array;
  take(n: number): Float32Array[];
}

/** What embed-corpus.py writes beside the vectors. */
export interface EmbeddingsDescription { dimension: number; count: number; model: string; sentences: number; sources: string[] }

export function describeEmbeddings(path: string): EmbeddingsDescription {
  const json = path.replace(/\.f32$/, '') + '.json';
  if (!path.endsWith('.f32') || !existsSync(json)) throw new Error(`--vectors ${path}: expected a .f32 file with its .json description beside it (bench/scripts/embed-corpus.py writes both)`);
  return JSON.parse(readFileSync(json, 'utf8')) as EmbeddingsDescription;
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

function tooSmall(path: string, why: string, need: Record<Part, number>): Error {
  return new Error(`${path} ${why}; this run needs ${Object.values(need).reduce((a, b) => a + b, 0)} ` +
    `(${Object.entries(need).map(([part, n]) => `${part} ${n}`).join(', ')}): ` +
    'pass smaller --sizes, --ingest-cap, --single or --batched, or embed a larger corpus');
}

export function checkFits(path: string, rowCount: number, need: Record<Part, number>): void {
  if (rowCount < Object.values(need).reduce((a, b) => a + b, 0)) throw tooSmall(path, `holds ${rowCount} vectors`, need);
}

/** `count` rows of an embeddings file from row `from`, read now. */
export function fileRows(path: string, dimension: number, from: number, count: number): Float32Array[] {
  return new EmbeddingRows(path, dimension, range(from, count)).take(count);
}

/**
 * Splits a file's rows among the parts of a run: base, queries, single and batched in that order,
 * then for `other` (written beside the searches) rows that no query has nearer than its own 10th
 * true neighbour (`bar`: that neighbour's cosine, per query). Written beside the searches, they
 * cannot displace a true neighbour, so recall under ingest is judged against the same truth as idle
 * (clustered data gets this from other clusters). Refuses a file too small for the run.
 */
export function fileParts(path: string, rowCount: number, dimension: number, need: Record<Part, number>, queries: Float32Array[], bar: number[]): Record<Part, number[]> {
  checkFits(path, rowCount, need);
  const rows = {} as Record<Part, number[]>;
  let at = 0;
  for (const part of ['base', 'queries', 'single', 'batched'] as const) {
    rows[part] = range(at, need[part]);
    at += need[part];
  }
  const unitQueries = queries.map(normalised);
  const far = (v: Float32Array) => {
    const u = normalised(v);
    return unitQueries.every((q, i) => dot(q, u) < bar[i]!);
  };
  const candidates = new EmbeddingRows(path, dimension, range(at, rowCount - at));
  rows.other = [];
  for (let row = at; row < rowCount && rows.other.length < need.other; row++) if (far(candidates.next())) rows.other.push(row);
  if (rows.other.length < need.other) throw tooSmall(path, `has ${rows.other.length} rows after the others far enough from every query to write beside the searches`, need);
  return rows;
}

/** Seeds of the clustered parts: other clusters than the base's, never among a query's nearest. */
const SEED_OFFSET: Record<Exclude<Part, 'queries'>, number> = { base: 0, other: 1000, single: 2000, batched: 3000 };

/** A part's vectors. Clustered queries come after the base from the base's own generator. */
export function vectorsFor(data: PeerData, dimension: number, part: Part): VectorSource {
  if (data.kind === 'file') return new EmbeddingRows(data.path, dimension, data.rows[part]);
  if (part === 'queries') throw new Error('clustered queries are taken from the base source');
  return new ClusteredVectors({ dimension, seed: data.seed + SEED_OFFSET[part] });
}

/** Given rows of an embeddings file, read as they are taken. */
class EmbeddingRows implements VectorSource {
  private taken = 0;

  constructor(private readonly path: string, private readonly dimension: number, private readonly rows: number[]) {}

  next(): Float32Array {
    return this.take(1)[0]!;
  }

  take(n: number): Float32Array[] {
    if (this.taken + n > this.rows.length) throw new Error(`${this.path}: a part of the run asked for more than the ${this.rows.length} rows set aside for it`);
    const rowBytes = this.dimension * 4;
    const fd = openSync(this.path, 'r');
    try {
      return this.rows.slice(this.taken, this.taken + n).map((row) => {
        const bytes = Buffer.alloc(rowBytes);
        if (readSync(fd, bytes, 0, rowBytes, row * rowBytes) !== rowBytes) throw new Error(`${this.path}: ends before row ${row} (is it the file its .json describes?)`);
        return new Float32Array(bytes.buffer, bytes.byteOffset, this.dimension);
      });
    } finally {
      this.taken += n;
      closeSync(fd);
    }
  }
}
