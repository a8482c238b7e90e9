// The guide's stress suite in its short CI form (`npm run bench:stress` runs the full one): burst
// at 10x the normal rate for 30 s, 2x for 30 s, half the workers killed mid-stream, memory limited
// to half of the normal peak. Each must lose nothing, degrade gracefully and recover within 60 s.
import { describe, expect, it } from 'vitest';
import { runStressSuite } from '../../bench/dist/stress-suite.js';

describe('stress suite (short form)', () => {
  it('passes every test of the guide', async () => {
    const result = await runStressSuite({
      profile: 'balanced', dimension: 768, spaces: 4, capacitySeconds: 8, burstSeconds: 30, sustainedSeconds: 30, killSeconds: 20, memorySeconds: 90,
      log: (line) => console.log(line),
    });
    console.table(result.rows.map((r) => ({ test: r.test, sent: r.sent, accepted: r.accepted, stored: r.stored, errors: r.errors.length, recovery: r.recoverySeconds.toFixed(1), pass: r.pass, note: r.note })));
    expect(result.rows).toHaveLength(4);
    for (const row of result.rows) {
      expect(row, row.test).toMatchObject({ pass: true, errors: [], finalRejections: 0 });
      expect(row.stored, row.test).toBe(row.accepted);
      expect(row.recoverySeconds, row.test).toBeLessThanOrEqual(60);
    }
  }, 600_000);
});
