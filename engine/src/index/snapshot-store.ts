// Snapshots of memory space indexes on disk: `<dir>/<space>/<generation>.hnsw` (the graph),
// `<generation>.state.json` (ids, contents, metadata) and `manifest.json`, which names the current
// generation and the highest log sequence number it holds. A snapshot becomes current only when
// its manifest is renamed into place (after its files are synced), so a crash while one is
// written leaves the previous one current; files no manifest names are removed at start.
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { HnswConfig } from '../config/engine-config.js';
import type { SnapshotFiles, SnapshotTarget } from '../pool/messages.js';
import type { SpaceSnapshot } from '../pool/space-recovery.js';
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
}

const MANIFEST = 'manifest.json';

export class SnapshotStore {
  private readonly manifests = new Map<string, SnapshotManifest>();

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
    const generation = (this.manifests.get(space)?.generation ?? 0) + 1;
    const spaceDir = join(this.dir, space);
    await mkdir(spaceDir, { recursive: true });
    return { generation, files: { graphPath: join(spaceDir, `${generation}.hnsw`), statePath: join(spaceDir, `${generation}.state.json`) } };
  }

  /** Makes a written snapshot current (atomic rename of its manifest), then drops the previous one. */
  async commit(manifest: SnapshotManifest): Promise<void> {
    const spaceDir = join(this.dir, manifest.space);
    const tmp = join(spaceDir, `${MANIFEST}.tmp`);
    await writeFileDurably(tmp, JSON.stringify(manifest));
    await rename(tmp, join(spaceDir, MANIFEST));
    await syncDirectory(spaceDir);
    const previous = this.manifests.get(manifest.space);
    this.manifests.set(manifest.space, manifest);
    if (previous) {
      for (const name of [previous.graph, previous.state]) if (name) await rm(join(spaceDir, name), { force: true });
    }
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
