// Snapshots of memory space indexes on disk: `<dir>/<space>/<generation>.hnsw` (the graph),
// `<generation>.state.json` (ids, contents, metadata) and `manifest.json`, which names the current
// generation and the highest log sequence number it holds. A snapshot becomes current only when
// its manifest is renamed into place (after its files are synced), so a crash while one is
// written leaves the previous one current; files no manifest names are removed at start.
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { HnswConfig } from '../config/engine-config.js';
import type { SnapshotFiles, SnapshotTarget, SpaceSnapshot } from './index-data.js';
import { syncDirectory, writeFileDurably } from '../wal/durable-files.js';

export interface SnapshotManifest {
  space: string;
  generation: number;
  lsn: number;
  size: number;
  hnsw: HnswConfig;
  /** File names inside the space's directory (graph is null for an empty space). */
  graph: string | null;
  state: string;
  /**
   * The space was handed to another pod at `lsn`: nothing to load, and the log's records of it up
   * to `lsn` are not replayed.
   */
  dropped?: boolean;
}

const MANIFEST = 'manifest.json';

export class SnapshotStore {
  private readonly manifests = new Map<string, SnapshotManifest>();
  /** The last generation handed out per space: two snapshots prepared at once never share files. */
  private readonly issued = new Map<string, number>();
  private readonly committing = new Map<string, Promise<void>>();

  constructor(readonly dir: string) {}

  /** Reads every space's manifest and removes files that no manifest names. */
  async load(): Promise<SnapshotManifest[]> {
    await mkdir(this.dir, { recursive: true });
    for (const space of await readdir(this.dir)) {
      const spaceDir = join(this.dir, space);
      const manifest = await readManifest(join(spaceDir, MANIFEST));
      if (manifest) this.manifests.set(space, manifest);
      const keep = new Set([MANIFEST, manifest?.graph, manifest?.state]);
      for (const name of await readdir(spaceDir)) if (!keep.has(name)) await rm(join(spaceDir, name), { force: true });
    }
    return [...this.manifests.values()];
  }

  get(space: string): SnapshotManifest | undefined {
    return this.manifests.get(space);
  }

  /** The snapshot recovery loads for a space, with absolute paths. */
  snapshotOf(space: string): SpaceSnapshot | null {
    const m = this.manifests.get(space);
    if (!m) return null;
    const spaceDir = join(this.dir, space);
    return { files: { graphPath: m.graph ? join(spaceDir, m.graph) : null, statePath: join(spaceDir, m.state) }, hnsw: m.hnsw, lsn: m.lsn };
  }

  /** Paths for the space's next snapshot generation. */
  async prepare(space: string): Promise<{ generation: number; files: SnapshotTarget }> {
    const generation = Math.max(this.manifests.get(space)?.generation ?? 0, this.issued.get(space) ?? 0) + 1;
    this.issued.set(space, generation);
    const spaceDir = join(this.dir, space);
    await mkdir(spaceDir, { recursive: true });
    return { generation, files: { graphPath: join(spaceDir, `${generation}.hnsw`), statePath: join(spaceDir, `${generation}.state.json`) } };
  }

  /**
   * Makes a written snapshot current (atomic rename of its manifest), then drops the previous one.
   * Commits of one space run one at a time (a checkpoint and a hand-off may both write one).
   */
  commit(manifest: SnapshotManifest): Promise<void> {
    const run = (this.committing.get(manifest.space) ?? Promise.resolve()).then(() => this.commitNow(manifest));
    const tail = run.catch(() => undefined);
    this.committing.set(manifest.space, tail);
    void tail.then(() => {
      if (this.committing.get(manifest.space) === tail) this.committing.delete(manifest.space);
    });
    return run;
  }

  private async commitNow(manifest: SnapshotManifest): Promise<void> {
    const spaceDir = join(this.dir, manifest.space);
    const previous = this.manifests.get(manifest.space);
    // A snapshot prepared earlier but committed later is older: the newer one stays current.
    if (previous && previous.generation > manifest.generation) {
      for (const name of [manifest.graph, manifest.state]) if (name) await rm(join(spaceDir, name), { force: true });
      return;
    }
    this.manifests.set(manifest.space, manifest);
    const tmp = join(spaceDir, `${MANIFEST}.tmp`);
    await writeFileDurably(tmp, JSON.stringify(manifest));
    await rename(tmp, join(spaceDir, MANIFEST));
    await syncDirectory(spaceDir);
    if (previous) {
      for (const name of [previous.graph, previous.state]) if (name) await rm(join(spaceDir, name), { force: true });
    }
  }

  /**
   * Records that the space left this engine at `lsn` (a manifest without files): recovery then
   * neither loads it nor replays its older log records.
   */
  async drop(space: string, lsn: number, hnsw: HnswConfig): Promise<void> {
    const { generation, files } = await this.prepare(space);
    await writeFileDurably(files.statePath, JSON.stringify({ ids: [], contents: [], metadata: [] }));
    await this.commit({ space, generation, lsn, size: 0, hnsw, graph: null, state: `${generation}.state.json`, dropped: true });
  }

  /**
   * Removes an index's snapshots for good (a layout a reshard replaced): its manifest first, so a
   * crash midway leaves either the whole snapshot or none.
   */
  async remove(space: string): Promise<void> {
    await this.committing.get(space);
    const spaceDir = join(this.dir, space);
    this.manifests.delete(space);
    await rm(join(spaceDir, MANIFEST), { force: true });
    await syncDirectory(spaceDir).catch(() => undefined);
    await rm(spaceDir, { recursive: true, force: true });
  }

  /** Removes the files of a snapshot that failed before its manifest was written. */
  async discard(files: SnapshotFiles): Promise<void> {
    for (const path of [files.graphPath, files.statePath]) if (path) await rm(path, { force: true });
  }
}

async function readManifest(path: string): Promise<SnapshotManifest | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as SnapshotManifest;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}
