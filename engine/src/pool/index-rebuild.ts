// Rebuilding memory space indexes with new HNSW parameters or another backend, in the background.
// The scheduler knows the M / ef_construction, backend and quantization each space's index was
// built with and rebuilds, one space at a time, every space whose shape differs from the config's,
// until none is left (level-based: a failed rebuild is tried again). One rebuild:
//   1. the space's worker writes a copy of the graph and starts remembering which labels change;
//   2. a rebuild thread builds a new graph from the copy's vectors with the new shape;
//   3. the worker loads the new graph, replays the changed labels into it and swaps it in, all in
//      one message, so a recall sees either the old graph or the new one, never a mix.
// Indexing and recalls go on against the old graph throughout; nothing is refused.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { runBackgroundThread } from './background-thread.js';
import { graphKind, type HnswConfig } from '../config/engine-config.js';
import type { Logger } from '../log.js';
import type { EngineMetrics } from '../metrics/engine-metrics.js';
import type { SpaceReport, ToWorker } from '../worker/messages.js';
import type { WorkerRequest } from './worker-slot.js';

/** Nice value of rebuild threads (background work, like indexing). */
const REBUILD_NICE = Number(process.env.ENGRAM_WORKER_NICE ?? 10);
const RETRY_MS = 1000;

/** What an index was built with that only a rebuild changes (`graphKind` fills in an older index's backend). */
type IndexShape = Pick<HnswConfig, 'm' | 'efConstruction' | 'backend' | 'quantization'>;

function shapeOf(hnsw: HnswConfig): IndexShape {
  return { m: hnsw.m, efConstruction: hnsw.efConstruction, ...graphKind(hnsw) };
}

function sameShape(a: IndexShape, b: IndexShape): boolean {
  return a.m === b.m && a.efConstruction === b.efConstruction && a.backend === b.backend && a.quantization === b.quantization;
}

export interface SchedulerDeps {
  /** The parameters every index should have (the config's). */
  target(): HnswConfig;
  /** Resolves once the space is neither moving nor recovering. */
  settled(space: string): Promise<void>;
  request: RebuildDeps['request'];
  post: RebuildDeps['post'];
  scratchDir: string;
  metrics: EngineMetrics;
  log: Logger;
}

/** Where background rebuilds stand: what an engine reports with its config. */
export interface RebuildStatus {
  /** Memory spaces whose index still has another M, ef_construction, backend or quantization than the config's. */
  spacesPending: number;
  /** Memory spaces indexed (all of them, rebuilt or not). */
  spacesTotal: number;
  /** Share of the space being rebuilt now that is done (0 when none is). */
  currentProgress: number;
}

export class RebuildScheduler {
  private readonly shapes = new Map<string, IndexShape>();
  private readonly progress = new Map<string, number>();
  private readonly running = new Map<string, Promise<unknown>>();
  private loop: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly deps: SchedulerDeps) {}

  /** The space's index was built, loaded or rebuilt with `hnsw`. */
  builtWith(space: string, hnsw: HnswConfig): void {
    this.shapes.set(space, shapeOf(hnsw));
  }

  /** The space left this engine: nothing to rebuild. */
  forget(space: string): void {
    this.shapes.delete(space);
    this.progress.delete(space);
  }

  /** A space seen for the first time is built with the current parameters. */
  noteNew(space: string): void {
    if (!this.shapes.has(space)) this.builtWith(space, this.deps.target());
  }

  status(): RebuildStatus {
    const running = [...this.running.keys()][0];
    return { spacesPending: this.stale().length, spacesTotal: this.shapes.size, currentProgress: running ? (this.progress.get(running) ?? 0) : 0 };
  }

  isRebuilding(space: string): boolean {
    return this.running.has(space);
  }

  /** Resolves when the space's rebuild (if one runs) has ended either way. */
  async waitFor(space: string): Promise<void> {
    await this.running.get(space)?.catch(() => undefined);
  }

  /** Starts rebuilding stale spaces in the background, unless that is already going on. */
  schedule(): void {
    if (this.loop || this.stopped || this.stale().length === 0) return;
    this.loop = this.run().finally(() => {
      this.loop = null;
      this.deps.metrics.rebuildsPending.set(this.stale().length);
    });
  }

  stop(): void {
    this.stopped = true;
  }

  private stale(): string[] {
    const target = shapeOf(this.deps.target());
    return [...this.shapes].filter(([, s]) => !sameShape(s, target)).map(([space]) => space);
  }

  private async run(): Promise<void> {
    const { metrics, log } = this.deps;
    for (let stale = this.stale(); stale.length > 0 && !this.stopped; stale = this.stale()) {
      metrics.rebuildsPending.set(stale.length);
      const space = stale[0] as string;
      const rebuild = this.deps.settled(space).then(() => rebuildSpace(space, this.deps.target(), {
        scratchDir: this.deps.scratchDir, nice: REBUILD_NICE, request: this.deps.request, post: this.deps.post,
        onProgress: (s, ratio) => {
          this.progress.set(s, ratio);
          metrics.rebuildProgress.set({ memory_space: s }, ratio);
        },
      }));
      this.running.set(space, rebuild);
      try {
        const report = await rebuild;
        this.builtWith(space, report.hnsw);
        metrics.rebuilds.inc({ result: 'done' });
        log.info('memory space index rebuilt', { space, ...shapeOf(report.hnsw), vectors: report.size });
      } catch (e) {
        metrics.rebuilds.inc({ result: 'failed' });
        log.warn('memory space index rebuild failed; trying again', { space, error: e instanceof Error ? e.message : String(e) });
        await new Promise((r) => setTimeout(r, RETRY_MS));
      } finally {
        this.running.delete(space);
        this.progress.delete(space);
      }
    }
  }
}

export interface RebuildJob {
  sourcePath: string;
  /** What the copy at sourcePath was built with. */
  source: HnswConfig;
  targetPath: string;
  /** What the new graph is built with. */
  target: HnswConfig;
  nice: number;
}

export interface RebuildProgress {
  done: number;
  total: number;
}

export interface RebuildDeps {
  scratchDir: string;
  /** Sends a keyed request to the space's owner and resolves with its report. */
  request(space: string, build: (key: string) => WorkerRequest): Promise<SpaceReport>;
  post(space: string, message: ToWorker): void;
  onProgress(space: string, ratio: number): void;
  nice: number;
  script?: URL;
}

let nextRebuild = 1;

export async function rebuildSpace(space: string, hnsw: HnswConfig, deps: RebuildDeps): Promise<SpaceReport> {
  const stem = join(deps.scratchDir, `rebuild-${process.pid}-${nextRebuild++}-${space}`);
  const sourcePath = `${stem}.old.hnsw`;
  const targetPath = `${stem}.new.hnsw`;
  try {
    const copy = await deps.request(space, (key) => ({ type: 'rebuildBegin', key, space, path: sourcePath }));
    try {
      await runRebuildThread({
        sourcePath, source: copy.hnsw, targetPath, target: hnsw, nice: deps.nice,
      }, (p) => deps.onProgress(space, p.total === 0 ? 1 : p.done / p.total), deps.script);
    } catch (e) {
      deps.post(space, { type: 'rebuildAbandon', space });
      throw e;
    }
    return await deps.request(space, (key) => ({ type: 'rebuildSwap', key, space, path: targetPath, hnsw }));
  } finally {
    rmSync(sourcePath, { force: true });
    rmSync(targetPath, { force: true });
  }
}

function runRebuildThread(job: RebuildJob, onProgress: (p: RebuildProgress) => void, script?: URL): Promise<void> {
  return runBackgroundThread(script ?? new URL('../worker/rebuild-main.js', import.meta.url), job, onProgress, 'rebuild');
}
