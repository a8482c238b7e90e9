// Helpers for the durability tests: check that observations are stored (exact lookup by id, vector
// compared) and recalled as their own nearest neighbours.
import { expect } from 'vitest';
import type { EngramClient } from '../../engine/dist/client/engram-client.js';
import { clusteredObservations } from './vectors.js';

export type Observations = ReturnType<typeof clusteredObservations>;

/**
 * `lost`: observations the space does not hold, or holds with another vector (a durability
 * failure). `notRecalled`: stored, but not their own nearest neighbour (HNSW is approximate).
 */
export async function checkStored(client: EngramClient, space: string, observations: Observations): Promise<{ lost: string[]; notRecalled: string[] }> {
  const lost: string[] = [];
  const stored: Observations = [];
  for (let i = 0; i < observations.length; i += 1000) {
    const chunk = observations.slice(i, i + 1000);
    const res = await client.fetch(space, chunk.map((o) => o.id));
    const held = new Map(res.observations.map((o) => [o.id, o]));
    for (const o of chunk) {
      const h = held.get(o.id);
      if (h && h.content === o.content && sameDirection(o.embedding, h.embedding)) stored.push(o);
      else lost.push(o.id);
    }
  }
  const notRecalled: string[] = [];
  for (let i = 0; i < stored.length; i += 32) {
    await Promise.all(stored.slice(i, i + 32).map(async (o) => {
      const res = await client.recall({ memorySpace: space, vector: o.embedding, k: 10, ef: 256 });
      if (!(res.hits[0]?.id === o.id || res.hits.some((h) => h.id === o.id && h.distance < 1e-5))) notRecalled.push(o.id);
    }));
  }
  return { lost, notRecalled };
}

/** At most one stored observation in 2,000 may be missed by recall (an HNSW property). */
export function recallTolerance(count: number): number {
  return Math.floor(count / 2000);
}

/** Every observation but `lostIds` is stored with its vector, and recall finds (nearly) all of them. */
export async function expectStored(client: EngramClient, space: string, observations: Observations, lostIds: string[] = []): Promise<void> {
  const { lost, notRecalled } = await checkStored(client, space, observations);
  expect(lost, `${space}: not stored`).toEqual(lostIds);
  expect(notRecalled.length, `${space}: stored but not recalled as own nearest neighbour`).toBeLessThanOrEqual(recallTolerance(observations.length));
}

function sameDirection(sent: Float32Array, storedBytes: Uint8Array): boolean {
  const stored = new Float32Array(storedBytes.buffer.slice(storedBytes.byteOffset, storedBytes.byteOffset + storedBytes.byteLength));
  let dot = 0;
  let ns = 0;
  let nt = 0;
  sent.forEach((x, i) => {
    dot += x * stored[i]!;
    ns += x * x;
    nt += stored[i]! * stored[i]!;
  });
  return dot / Math.sqrt(ns * nt) > 0.9999;
}

export async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const started = performance.now();
  while (!(await condition())) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return performance.now() - started;
}

export async function readyStatus(httpUrl: string): Promise<number> {
  return (await fetch(`${httpUrl}/readyz`)).status;
}
