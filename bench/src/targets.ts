// The fast-path targets (issue 18, docs/benchmarks.md "Against the targets") beside what a run of
// `npm run bench` measured. A target this bench does not measure names the bench that does, rather
// than repeating an old figure as if it were this run's.

export interface ProfileFigures {
  profile: string;
  /** Indexed rate over raw single-thread hnswlib x min(workers, cores), same run. */
  vsRawTimesWorkers: number;
  /** Client-side recall p99 (ms) while ingest runs at 80% of the indexed rate. */
  recallP99: number;
}

export interface BurstFigures {
  /** Observations accepted a second, with the log synced per batch (the engine's default). */
  rate: number;
}

interface TargetRow {
  target: string;
  measured: string;
  met: 'yes' | 'no' | 'partly' | 'other bench';
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

function verdict(passes: boolean[]): TargetRow['met'] {
  if (passes.length > 0 && passes.every(Boolean)) return 'yes';
  return passes.some(Boolean) ? 'partly' : 'no';
}

export function targetRows(rows: ProfileFigures[], burst: BurstFigures | null): TargetRow[] {
  const byProfile = (pick: (r: ProfileFigures) => string) => rows.map((r) => `${r.profile} ${pick(r)}`).join(', ');
  const out: TargetRow[] = [
    {
      target: 'engine overhead: indexed >= 0.90 x raw 1-thread x min(workers, cores)',
      measured: byProfile((r) => fmt(r.vsRawTimesWorkers, 2)),
      met: verdict(rows.map((r) => r.vsRawTimesWorkers >= 0.9)),
    },
    {
      target: 'recall k=10 client p99 <= 5 ms with ingest at 80% of the indexed rate',
      measured: byProfile((r) => `${fmt(r.recallP99, 1)} ms`),
      met: verdict(rows.map((r) => r.recallP99 <= 5)),
    },
  ];
  if (burst) {
    out.push({ target: 'accepted ingest >= 60,000 obs/s, log synced per batch', measured: `${fmt(burst.rate)} obs/s (load generator in this process)`, met: burst.rate >= 60_000 ? 'yes' : 'no' });
  }
  const elsewhere: Array<[string, string]> = [
    ['recall floor: the engine adds <= 0.5 ms (p50) and 1 ms (p99) to echo + search', 'npm run bench:recall-floor'],
    ['freshness: send to INDEXED p99 <= 50 ms with ingest at 50%', 'npm run bench:recall-under-ingest'],
    ['accepted ingest against bare grpc-js servers, load generator in its own process', 'npm run bench:ingest-floor'],
    ['indexed rate of the SIMD build >= 1.5 x the portable one', 'npm run bench:simd'],
    ['vectors held under 512 MiB (memory-constrained, M 8) >= 110,000', 'npm run bench:memory'],
  ];
  for (const [target, bench] of elsewhere) out.push({ target, measured: `not measured here: ${bench}`, met: 'other bench' });
  return out;
}

export function printTargets(rows: TargetRow[]): void {
  console.log('\nAgainst the targets (this run):');
  console.log('| target | measured | met |');
  console.log('|---|---|---|');
  for (const r of rows) console.log(`| ${r.target} | ${r.measured} | ${r.met} |`);
}
