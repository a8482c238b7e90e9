// Helpers for the durability tests: stream observations into spaces, and check that each one is
// recalled as its own nearest neighbour.
import type { EngramClient } from '../../engine/dist/client/engram-client.js';
import { clusteredObservations } from './vectors.js';

export type Observations = ReturnType<typeof clusteredObservations>;

/** Observations whose own vector does not find them first (a tie at distance 0 counts as found). */
export async function notRecalled(client: EngramClient, space: string, observations: Observations): Promise<string[]> {
  const missing: string[] = [];
  for (let i = 0; i < observations.length; i += 32) {
    await Promise.all(observations.slice(i, i + 32).map(async (o) => {
      const res = await client.recall({ memorySpace: space, vector: o.embedding, k: 10, ef: 256 });
      if (!(res.hits[0]?.id === o.id || res.hits.some((h) => h.id === o.id && h.distance < 1e-5))) missing.push(o.id);
    }));
  }
  return missing;
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
