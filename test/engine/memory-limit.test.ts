// An engine near its memory limit: it first hands free heap pages back to the kernel, then refuses
// new observations as retryable (REJECT_MEMORY_PRESSURE, the reason named), loses nothing it
// accepted, and takes everything the client resends once the limit is raised, without a restart.
// A snapshot, whose file passes through the page cache a container's limit counts, waits for room.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine, type EngineProcess } from '../helpers/engine-process.js';
import { clusteredObservations, metricValue } from '../helpers/vectors.js';
import { eventually } from '../helpers/eventually.js';

const MiB = 1024 * 1024;
const SPACES = 4;
const PER_SPACE = 6000;

describe('memory limit', () => {
  let engine: EngineProcess;
  beforeAll(async () => {
    engine = await startEngine({ 'hnsw.dimension': 768 }, ['--profile', 'memory-constrained']);
  });
  afterAll(async () => {
    await engine.stop();
  });

  it('trims the heap, refuses what does not fit, and takes it all once the limit is raised', async () => {
    const client = engine.client();
    const idle = metricValue(await engine.metrics(), 'process_resident_memory_bytes', {})!;
    expect(idle).toBeGreaterThan(0);
    // room for about 60 MiB more than idle under the 90% watermark: less than the 24,000 vectors (75 MiB of graph alone)
    await client.applyConfig({ memory: { limitBytes: Math.round((idle + 60 * MiB) / 0.9) } });
    const reasons = new Set<string>();
    let raise: NodeJS.Timeout | undefined;
    const counts = await Promise.all(Array.from({ length: SPACES }, async (_, s) => {
      const space = `memory-${s}`;
      const stream = await client.openStream({ memorySpace: space, maxBatch: 200 });
      stream.on('refused', (ack) => {
        if (ack.code !== 'REJECT_MEMORY_PRESSURE') return;
        reasons.add(ack.reason.replace(/\d+/g, 'N'));
        // lift the limit 3 s after the first refusal (a few trims run meanwhile): the streams resend by themselves
        raise ??= setTimeout(() => void client.applyConfig({ memory: { limitBytes: 0 } }), 3000);
      });
      for (const o of clusteredObservations(space, PER_SPACE, 768, s)) await stream.send(o);
      return stream.close({ drain: true });
    }));
    expect([...reasons]).toEqual(['engine memory N MiB in use + N MiB queued is over N% of its N MiB limit; resend later, or raise the limit or spread the memory spaces over more engines']);
    for (const c of counts) expect(c).toMatchObject({ accepted: PER_SPACE, indexed: PER_SPACE, rejected: 0 });
    const metrics = await engine.metrics();
    expect(metricValue(metrics, 'engram_memory_returned_bytes_total', {})).toBeGreaterThan(0);
    const fetched = await client.fetch('memory-3', ['memory-3-0', `memory-3-${PER_SPACE - 1}`]);
    expect(fetched.observations.map((o) => o.id).sort()).toEqual(['memory-3-0', `memory-3-${PER_SPACE - 1}`]);
  }, 120_000);

  it('holds a snapshot back while it would not fit under the watermark, and writes it once there is room', async () => {
    const client = engine.client();
    const snapshots = async (result: string) => metricValue(await engine.metrics(), 'engram_snapshots_total', { result }) ?? 0;
    // no checkpoint while it streams: 5,000 vectors of 768 dimensions, a snapshot of about 20 MiB
    await client.applyConfig({ durability: { snapshotIntervalMs: 600_000 } });
    const stream = await client.openStream({ memorySpace: 'snapshot-wait', maxBatch: 200 });
    for (const o of clusteredObservations('snapshot-wait', 5000, 768, 9)) await stream.send(o);
    await stream.close({ drain: true });
    const resident = metricValue(await engine.metrics(), 'process_resident_memory_bytes', {})!;
    // the watermark well under what is resident now (a heap trim gives some back): no room for the snapshot
    await client.applyConfig({ memory: { limitBytes: Math.round((resident / 2) / 0.9) } });
    await client.applyConfig({ durability: { snapshotIntervalMs: 1000 } });
    const waiting = await eventually('the snapshot held back', async () => engine.logEntries()
      .find((e) => e.message === 'snapshot waits for memory; the log keeps its records until it is written' && e.space === 'snapshot-wait'), 20_000)
      .catch((e: Error) => {
        throw new Error(`${e.message}; snapshot log lines: ${JSON.stringify(engine.logEntries().filter((l) => /snapshot|memory/.test(String(l.message))))}`);
      });
    expect(await snapshots('deferred')).toBeGreaterThan(0);
    expect(Number(waiting.needsMiB)).toBeGreaterThan(Number(waiting.headroomMiB));
    const written = await snapshots('written');
    await new Promise((r) => setTimeout(r, 3000)); // three checkpoint intervals
    expect(await snapshots('written')).toBe(written);
    await client.applyConfig({ memory: { limitBytes: 0 } });
    await eventually('the snapshot written', async () => ((await snapshots('written')) > written ? true : undefined), 20_000);
  }, 120_000);
});
