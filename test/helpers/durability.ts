// Helpers for the durability tests: check that observations are stored (exact lookup by id, vector
// and content compared) and recalled as their own nearest neighbours (engine/src/testing/stored-check.ts).
import { expect } from 'vitest';
import type { EngramClient } from '../../engine/dist/client/engram-client.js';
import { checkStored, recallTolerance } from '../../engine/dist/testing/stored-check.js';
import { clusteredObservations } from './vectors.js';

export type Observations = ReturnType<typeof clusteredObservations>;

/** Every observation but `lostIds` is stored with its vector, and recall finds (nearly) all of them. */
export async function expectStored(client: EngramClient, space: string, observations: Observations, lostIds: string[] = []): Promise<void> {
  const { lost, notRecalled } = await checkStored(client, observations.map((o) => ({ space, ...o })));
  expect(lost, `${space}: not stored`).toEqual(lostIds);
  expect(notRecalled.length, `${space}: stored but not recalled as own nearest neighbour`).toBeLessThanOrEqual(recallTolerance(observations.length));
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
