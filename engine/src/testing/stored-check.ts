// Did the engine keep what it acknowledged? Two questions, answered apart because HNSW is
// approximate (a stored point can be unreachable in the graph):
//   lost        - not stored, or stored with another vector or content (exact `Fetch` by id):
//                 a durability failure, must be none;
//   notRecalled - stored, but not its own nearest neighbour (ef 256; a tie at distance 0 counts):
//                 a property of the index, allowed at `recallTolerance`.
import type { EngramClient } from '../client/engram-client.js';

export interface StoredItem {
  space: string;
  id: string;
  embedding: Float32Array;
  /** Compared when given. */
  content?: string;
}

/** At most one stored observation in 2,000 may be missed by recall (measured: 19 in 265,881). */
export function recallTolerance(count: number): number {
  return Math.floor(count / 2000);
}

export async function checkStored(client: EngramClient, items: StoredItem[]): Promise<{ lost: string[]; notRecalled: string[] }> {
  const lost: string[] = [];
  const stored: StoredItem[] = [];
  for (const [space, list] of groupBySpace(items)) {
    for (let i = 0; i < list.length; i += 1000) {
      const chunk = list.slice(i, i + 1000);
      const held = new Map((await client.fetch(space, chunk.map((x) => x.id))).observations.map((o) => [o.id, o]));
      for (const item of chunk) {
        const h = held.get(item.id);
        const same = h && (item.content === undefined || h.content === item.content) && cosine(item.embedding, h.embedding) > 0.9999;
        if (same) stored.push(item);
        else lost.push(item.id);
      }
    }
  }
  return { lost, notRecalled: await notRecalled(client, stored) };
}

function groupBySpace(items: StoredItem[]): Map<string, StoredItem[]> {
  const bySpace = new Map<string, StoredItem[]>();
  for (const item of items) {
    const list = bySpace.get(item.space);
    if (list) list.push(item);
    else bySpace.set(item.space, [item]);
  }
  return bySpace;
}

/** Cosine of a sent vector and stored wire bytes (stored vectors are unit length under cosine). */
function cosine(a: Float32Array, bytes: Uint8Array): number {
  const b = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += (a[i] as number) * (b[i] as number);
    na += (a[i] as number) ** 2;
    nb += (b[i] as number) ** 2;
  }
  return dot / Math.sqrt(na * nb);
}

/** 32 recalls at a time. */
async function notRecalled(client: EngramClient, items: StoredItem[]): Promise<string[]> {
  const missing: string[] = [];
  for (let i = 0; i < items.length; i += 32) {
    await Promise.all(items.slice(i, i + 32).map(async ({ space, id, embedding }) => {
      const res = await client.recall({ memorySpace: space, vector: embedding, k: 10, ef: 256 });
      if (!(res.hits[0]?.id === id || res.hits.some((h) => h.id === id && h.distance < 1e-5))) missing.push(id);
    }));
  }
  return missing;
}
