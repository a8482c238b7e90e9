// SIGKILL at random moments under continuous streams, 20 times over one data directory (8 on usearch): after
// every restart each observation ever ACCEPTED is stored with the vector sent (exact lookup) and
// recalled as its own nearest neighbour, and no id is stored twice. Then a graceful stop: SIGTERM
// exits 0 within its deadline after a snapshot, so the next start replays nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runKillDrill } from '../../engine/dist/testing/kill-drill.js';
import { recallTolerance } from '../../engine/dist/testing/stored-check.js';
import { startEngine } from '../helpers/engine-process.js';
import { clusteredObservations } from '../helpers/vectors.js';

const SEED = Number(process.env.KILL_DRILL_SEED ?? 20261127);
/**
 * The second run on usearch (npm run test:usearch) checks that usearch graphs are snapshotted and
 * loaded whole across kills: 8 kills do that. The 20 kills' breadth is for the log and its replay,
 * which do not depend on the index library and have it in the main run (8 kills save about a minute of CI).
 */
const DRILL_TRIALS = process.env.ENGRAM_TEST_BACKEND === 'usearch' ? 8 : 20;

describe('crash recovery', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'engram-kill-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it(`loses no acknowledged observation over ${DRILL_TRIALS} SIGKILLs under load (seed ${SEED})`, async () => {
    const report = await runKillDrill({ dataDir, trials: DRILL_TRIALS, seed: SEED });
    expect(report.trials).toHaveLength(DRILL_TRIALS);
    for (const t of report.trials) expect(t.lost, `trial ${t.trial}`).toEqual([]);
    expect(report.lost).toEqual([]);
    // Recall is approximate: an HNSW graph can leave a stored point unreachable.
    expect(report.notRecalled.length).toBeLessThanOrEqual(recallTolerance(report.accepted));
    for (const t of report.trials) expect(t.notRecalled.length, `trial ${t.trial}`).toBeLessThanOrEqual(Math.max(1, recallTolerance(t.accepted)));
    // The drill did work: observations were accepted in every trial, and stored at most once.
    expect(report.trials.every((t) => t.accepted > 0)).toBe(true);
    for (const s of report.spaces) {
      expect(s.stored).toBeGreaterThanOrEqual(s.accepted);
      expect(s.stored).toBeLessThanOrEqual(s.sent);
    }
  }, 300_000);

  it('keeps restart time flat over ten kills in a row: recovery snapshots what it replayed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-kill-flat-'));
    try {
      // No periodic snapshot in the window: only the snapshot after recovery keeps replay bounded.
      const report = await runKillDrill({
        dataDir: dir, trials: 10, seed: SEED, minMs: 800, maxMs: 1200, config: { 'durability.snapshotIntervalMs': 600_000 },
      });
      for (const t of report.trials) expect(t.lost, `trial ${t.trial}`).toEqual([]);
      // Each restart replays only what the trial before it wrote, never the log of every earlier one.
      for (const t of report.trials) expect(t.recordsReplayed, `trial ${t.trial}`).toBeLessThanOrEqual(t.accepted + 1100);
      const total = report.trials.reduce((n, t) => n + t.accepted, 0);
      expect(report.trials.at(-1)!.recordsReplayed).toBeLessThan(total / 3);
      const restarts = report.trials.map((t) => t.restartSeconds);
      console.log(`restart to ready over ten kills (s): ${restarts.map((r) => r.toFixed(2)).join(' ')}; replayed: ${report.trials.map((t) => t.recordsReplayed).join(' ')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('stops gracefully on SIGTERM: exit 0 within the deadline, snapshot written, nothing to replay', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-term-'));
    try {
      const config = { 'hnsw.dimension': 32, workers: 2 };
      const engine = await startEngine(config, ['--data-dir', dir, '--shutdown-deadline-ms', '10000']);
      const stream = await engine.client().openStream({ memorySpace: 'graceful', maxBatch: 100 });
      for (const o of clusteredObservations('graceful', 3000, 32)) await stream.send(o);
      await stream.settled();
      const started = performance.now();
      expect(await engine.stop('SIGTERM')).toBe(0);
      expect(performance.now() - started).toBeLessThan(10_000);
      const again = await startEngine(config, ['--data-dir', dir]);
      const recovered = again.logEntries().find((e) => e.message === 'recovered from the data directory');
      expect(recovered).toMatchObject({ spacesRestored: 1, recordsReplayed: 0 });
      expect((await again.client().stats()).spaces[0]).toMatchObject({ memorySpace: 'graceful', vectors: 3000 });
      await again.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
