// The load generator: one observation stream per memory space, sending as fast as the engine takes
// them (or at a set rate), recording for every observation the time from `send` to its ACCEPTED
// and to its INDEXED ack. Retryable refusals are resent by the client library, so a refused
// observation's latency includes its wait.
import { EngramClient } from '@engram/engine/client';

export interface LoadOptions {
  address: string;
  spaces: string[];
  /** Observations per space; observation i of a space uses vectors[(offset + i) % count]. */
  perSpace: number;
  vectors: Float32Array[];
  idPrefix: string;
  /** Total observations/s across all streams; 0 = as fast as the engine accepts. */
  rate?: number;
  maxBatch?: number;
  maxInFlight?: number;
  honoursBackpressure?: boolean;
  /** Wait for INDEXED acks of everything before returning (default true). */
  drain?: boolean;
}

export interface LoadResult {
  sent: number;
  accepted: number;
  indexed: number;
  refused: number;
  acceptLatencyMs: Float64Array;
  indexLatencyMs: Float64Array;
  /** From the first send to the last ACCEPTED ack. */
  acceptSeconds: number;
  /** From the first send to the last INDEXED ack. */
  indexSeconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const client = new EngramClient(o.address);
  const total = o.spaces.length * o.perSpace;
  const acceptLatency = new Float64Array(total);
  const indexLatency = new Float64Array(total);
  let lastAccept = 0;
  let lastIndex = 0;
  let refused = 0;
  const started = performance.now();
  const perStreamRate = o.rate ? o.rate / o.spaces.length : 0;

  const results = await Promise.all(o.spaces.map(async (space, s) => {
    const stream = await client.openStream({
      memorySpace: space, maxBatch: o.maxBatch ?? 256, honoursBackpressure: o.honoursBackpressure ?? true,
      ...(o.maxInFlight ? { maxInFlight: o.maxInFlight } : {}),
    });
    const sentAt = new Float64Array(o.perSpace + 1);
    const base = s * o.perSpace;
    stream.on('ack', (ack) => {
      const now = performance.now();
      if (ack.status === 'ACCEPTED') {
        for (let q = Number(ack.firstSequence); q <= Number(ack.lastSequence); q++) acceptLatency[base + q - 1] = now - sentAt[q]!;
        lastAccept = now;
      } else if (ack.status === 'INDEXED') {
        for (let q = Number(ack.firstSequence); q <= Number(ack.lastSequence); q++) indexLatency[base + q - 1] = now - sentAt[q]!;
        lastIndex = now;
      }
    });
    stream.on('refused', (ack) => { refused += Number(ack.lastSequence) - Number(ack.firstSequence) + 1; });
    const streamStart = performance.now();
    for (let i = 0; i < o.perSpace; i++) {
      if (perStreamRate > 0) {
        const due = streamStart + (i / perStreamRate) * 1000;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait);
      }
      sentAt[i + 1] = performance.now();
      await stream.send({ id: `${o.idPrefix}-${space}-${i}`, embedding: o.vectors[(base + i) % o.vectors.length]! });
    }
    return stream.close({ drain: o.drain ?? true });
  }));
  client.close();
  return {
    sent: results.reduce((n, r) => n + r.sent, 0),
    accepted: results.reduce((n, r) => n + r.accepted, 0),
    indexed: results.reduce((n, r) => n + r.indexed, 0),
    refused,
    acceptLatencyMs: acceptLatency,
    indexLatencyMs: indexLatency,
    acceptSeconds: (lastAccept - started) / 1000,
    indexSeconds: (lastIndex - started) / 1000,
  };
}

/** Recalls at a steady pace until `until` resolves; returns each recall's latency in ms. */
export async function recallWhile(address: string, spaces: string[], vectors: Float32Array[], until: Promise<unknown>, everyMs = 10): Promise<number[]> {
  const client = new EngramClient(address);
  let done = false;
  void until.finally(() => { done = true; });
  const latencies: number[] = [];
  for (let i = 0; !done; i++) {
    const started = performance.now();
    await client.recall({ memorySpace: spaces[i % spaces.length]!, vector: vectors[(i * 31) % vectors.length]!, k: 10 });
    latencies.push(performance.now() - started);
    await sleep(everyMs);
  }
  client.close();
  return latencies;
}
