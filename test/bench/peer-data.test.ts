// The peer benchmark's embeddings file: which rows each part of a run gets. What is written beside
// the searches must never be nearer a query than its 10th true neighbour, or recall under ingest
// would be judged against a truth that no longer holds.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileParts, vectorsFor } from '../../bench/dist/peer-data.js';

const dir = mkdtempSync(join(tmpdir(), 'peer-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(rows: number[][]): string {
  const path = join(dir, `rows-${rows.length}.f32`);
  writeFileSync(path, Buffer.from(Float32Array.from(rows.flat()).buffer));
  return path;
}

describe('fileParts', () => {
  const need = { base: 2, queries: 1, single: 1, batched: 1, other: 2 };
  const query = new Float32Array([1, 0]);
  const bar = [0.9]; // the query's 10th true neighbour is at cosine 0.9

  it('gives base, queries, single and batched the first rows, and skips for `other` the rows nearer a query than its bar', () => {
    const rows = [[1, 0.1], [0.9, 0.5], [1, 0], [0, 1], [0, 1], /* near the query: */ [1, 0.05], /* far: */ [0, 1], [1, 1], /* near: */ [2, 0.1], [-1, 0]];
    const path = file(rows);
    const parts = fileParts(path, rows.length, 2, need, [query], bar);
    expect(parts).toEqual({ base: [0, 1], queries: [2], single: [3], batched: [4], other: [6, 7] });
    // and the rows read are those rows
    const other = vectorsFor({ kind: 'file', path, rows: parts }, 2, 'other').take(2).map((v) => Array.from(v));
    expect(other).toEqual([[0, 1], [1, 1]]);
  });

  it('refuses a file without enough far rows, saying how many it found and what the run needs', () => {
    const rows = [[1, 0.1], [0.9, 0.5], [1, 0], [0, 1], [0, 1], [1, 0.05], [0, 1], [2, 0.1]];
    expect(() => fileParts(file(rows), rows.length, 2, need, [query], bar))
      .toThrow(/has 1 rows after the others far enough from every query to write beside the searches; this run needs 7 \(base 2, queries 1, single 1, batched 1, other 2\)/);
  });
});
