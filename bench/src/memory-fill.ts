// Filling an engine to its memory limit: stream into several spaces until the first memory
// refusal, then wait for indexing to settle (bench:memory, and the backend comparison).
import { ClusteredVectors } from '@engram/engine/synthetic';
import type { EngineProcess } from '@engram/engine/testing';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Streams until the engine first refuses for memory; returns how long that took. */
export async function fillUntilRefused(engine: EngineProcess, spaces: string[], dimension: number): Promise<{ seconds: number; sent: number; refusedFor: string }> {
  const client = engine.client();
  const vectors = new ClusteredVectors({ dimension }).take(4096);
  let refusal: string | null = null;
  let sent = 0;
  const started = performance.now();
  await Promise.all(spaces.map(async (space, s) => {
    const stream = await client.openStream({ memorySpace: space, maxBatch: 256, honoursBackpressure: true });
    stream.on('refused', (ack) => {
      if (ack.code === 'REJECT_MEMORY_PRESSURE') refusal ??= ack.reason;
    });
    for (let i = 0; refusal === null; i++) {
      await stream.send({ id: `v-${s}-${i}`, embedding: vectors[(s * 977 + i) % vectors.length]! });
      sent++;
    }
    stream.cancel();
  }));
  return { seconds: (performance.now() - started) / 1000, sent, refusedFor: refusal ?? '' };
}

/** Vectors the engine holds once indexing has settled (unchanged for two seconds). */
export async function settledVectors(engine: EngineProcess): Promise<number> {
  const client = engine.client();
  let last = -1;
  for (;;) {
    const stats = await client.stats();
    const held = stats.spaces.reduce((n, s) => n + Number(s.vectors), 0);
    if (held === last && stats.queueDepth === 0) return held;
    last = held;
    await sleep(2000);
  }
}
