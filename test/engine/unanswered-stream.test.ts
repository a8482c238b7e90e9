// A client whose engine stops answering while its connection stays open (here the engine process
// is frozen with SIGSTOP) fails the stream once a batch has gone unanswered past its reply timeout,
// saying what the stream held, instead of waiting forever; an unanswered init fails the same way.
// The observations it held are there to resend, and are accepted once the engine answers again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine, type EngineProcess } from '../helpers/engine-process.js';
import { clusteredObservations } from '../helpers/vectors.js';

const TIMEOUT_MS = 1500;

describe('a stream the engine stops answering', () => {
  let engine: EngineProcess;
  beforeAll(async () => {
    engine = await startEngine({ 'hnsw.dimension': 16 });
  });
  afterAll(async () => {
    engine.process.kill('SIGCONT');
    await engine.stop();
  });

  it('fails after the reply timeout with the stream state, and what it held is accepted on a new stream', async () => {
    const client = engine.client();
    const [first, ...held] = clusteredObservations('frozen', 11, 16, 1);
    const stream = await client.openStream({ memorySpace: 'frozen', replyTimeoutMs: TIMEOUT_MS });
    await stream.send(first!);
    await stream.settled();

    engine.process.kill('SIGSTOP');
    const started = Date.now();
    for (const o of held) await stream.send(o);
    const failure = await stream.settled().then(() => null, (e: Error) => e);
    const waited = Date.now() - started;
    expect(failure?.message).toMatch(/^the engine did not answer batch \d+ in \d+ s \(stream state \{"unaccepted":10,"onTheWire":10,.*"unansweredBatches":[1-9]\d*,.*\); the stream is cancelled/);
    expect(waited).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(stream.unacceptedIds()).toEqual(held.map((o) => o.id));

    // an init is not answered either
    const opening = await client.openStream({ memorySpace: 'frozen', replyTimeoutMs: TIMEOUT_MS }).then(() => null, (e: Error) => e);
    expect(opening?.message).toBe(`the engine did not answer the stream's init for memory space 'frozen' in ${TIMEOUT_MS / 1000} s; the stream is cancelled`);

    engine.process.kill('SIGCONT');
    const again = await client.openStream({ memorySpace: 'frozen' });
    for (const o of held) await again.send(o);
    expect(await again.close({ drain: true })).toMatchObject({ accepted: held.length, rejected: 0 });
    const fetched = await client.fetch('frozen', [first!.id, ...held.map((o) => o.id)]);
    expect(fetched.missingIds).toEqual([]);
  }, 60_000);
});
