import { describe, expect, it } from 'vitest';
import { ReplaySink } from './space-recovery.js';

const settled = (p: Promise<void>) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10))]);

describe('replay sink', () => {
  it('is not done while records are still being added, even if all added so far are indexed', async () => {
    const sink = new ReplaySink();
    sink.add(2);
    sink.indexed(1, 2);
    expect(await settled(sink.done)).toBe(false);
    sink.add(1);
    sink.seal();
    expect(await settled(sink.done)).toBe(false);
    sink.failed();
    expect(await settled(sink.done)).toBe(true);
  });

  it('is done at once when sealed with nothing outstanding', async () => {
    const sink = new ReplaySink();
    sink.seal();
    expect(await settled(sink.done)).toBe(true);
  });
});
