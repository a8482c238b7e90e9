// The three stores `npm run bench:peers` compares, behind one interface: an Engram engine (a
// process of its own, reached over gRPC), LanceDB embedded in this process (its HNSW index:
// IVF_HNSW_SQ with one partition), and hnswlib-node alone in this process. Each keeps its
// vectors where it would in use; "searchable" means a search can return the vector.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { FixedSizeList, Field, Float32, Int32, Schema } from 'apache-arrow';
import type { EngramClient, ObservationStream } from '@engram/engine/client';
import { hnswlib } from '@engram/engine/hnswlib';
import { processUsage, startEngine, type EngineProcess } from '@engram/engine/testing';

export const PEER_SYSTEMS = ['engram', 'lancedb', 'hnswlib'] as const;
export type PeerSystem = (typeof PEER_SYSTEMS)[number];

/** The HNSW parameters every store builds with (the engine's balanced profile). */
export const HNSW = { m: 16, efConstruction: 200, efSearch: 64 } as const;

export interface PeerStore {
  /** Writes one vector; resolves once the store has taken it (not necessarily searchable yet). */
  write(collection: string, id: number, vector: Float32Array): Promise<void>;
  /** Writes one vector; resolves once a search can return it. */
  insertOne(collection: string, id: number, vector: Float32Array): Promise<void>;
  /** Writes vectors in calls of `batch`; resolves once a search can return every one. */
  insertMany(collection: string, ids: number[], vectors: Float32Array[], batch: number): Promise<void>;
  /** Writes vectors as fast as the store takes them; resolves once it has taken them (searchable or not). */
  ingest(collection: string, ids: number[], vectors: Float32Array[]): Promise<void>;
  /** Resolves once everything written to the collection is searchable. */
  settled(collection: string): Promise<void>;
  /** Whether the store holds the id (by exact lookup, not by search). */
  holds(collection: string, id: number): Promise<boolean>;
  /** Builds (or brings up to date) the collection's vector index, where that is a separate step. */
  buildIndex(collection: string): Promise<void>;
  /** The ids of the k nearest by cosine similarity. */
  search(collection: string, query: Float32Array, k: number): Promise<number[]>;
  /** Resident bytes of the process that holds the data. */
  residentBytes(): number;
  /** Bytes on disk of what the store keeps (for hnswlib, its saved index files). */
  diskBytes(): number;
  close(): Promise<void>;
}

export async function openStore(system: PeerSystem, dir: string, dimension: number): Promise<PeerStore> {
  mkdirSync(dir, { recursive: true });
  if (system === 'engram') return EngramStore.open(dir, dimension);
  if (system === 'lancedb') return LanceStore.open(dir, dimension);
  return new HnswlibStore(dir, dimension);
}

function directoryBytes(dir: string): number {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

function selfResidentBytes(): number {
  return processUsage(process.pid)?.rssBytes ?? 0;
}

/** One collection's stream, how many observations were given to it, and who waits for all of them to be indexed. */
interface EngramSession { stream: ObservationStream; sent: number; waiters: Array<() => void> }

class EngramStore implements PeerStore {
  private readonly sessions = new Map<string, EngramSession>();

  private constructor(private readonly engine: EngineProcess, private readonly client: EngramClient, private readonly dataDir: string) {}

  static async open(dir: string, dimension: number): Promise<EngramStore> {
    const dataDir = join(dir, 'engram-data');
    const engine = await startEngine({ 'hnsw.dimension': dimension, 'hnsw.m': HNSW.m, 'hnsw.efConstruction': HNSW.efConstruction, 'hnsw.efSearch': HNSW.efSearch }, ['--data-dir', dataDir]);
    return new EngramStore(engine, engine.client(), dataDir);
  }

  private async session(collection: string, maxBatch: number): Promise<EngramSession> {
    let session = this.sessions.get(collection);
    if (!session) {
      const created: EngramSession = { stream: await this.client.openStream({ memorySpace: collection, maxBatch }), sent: 0, waiters: [] };
      created.stream.on('ack', () => {
        if (created.stream.counts.indexed >= created.sent) for (const w of created.waiters.splice(0)) w();
      });
      this.sessions.set(collection, created);
      session = created;
    }
    return session;
  }

  /** Waits until the engine has reported every observation given to the collection's stream indexed. */
  private async allIndexed(collection: string): Promise<void> {
    const session = this.sessions.get(collection)!;
    if (session.stream.counts.indexed >= session.sent) return;
    await new Promise<void>((resolve) => session.waiters.push(resolve));
  }

  async write(collection: string, id: number, vector: Float32Array): Promise<void> {
    const session = await this.session(collection, 256);
    session.sent++;
    await session.stream.send({ id: String(id), embedding: vector });
  }

  async insertOne(collection: string, id: number, vector: Float32Array): Promise<void> {
    await this.write(collection, id, vector);
    await this.allIndexed(collection);
  }

  async insertMany(collection: string, ids: number[], vectors: Float32Array[], batch: number): Promise<void> {
    const session = await this.session(collection, batch);
    for (const [n, id] of ids.entries()) {
      session.sent++;
      await session.stream.send({ id: String(id), embedding: vectors[n]! });
    }
    await this.allIndexed(collection);
  }

  async ingest(collection: string, ids: number[], vectors: Float32Array[]): Promise<void> {
    // streamed: the stream's windows, not a wait for indexing, pace it
    for (const [n, id] of ids.entries()) await this.write(collection, id, vectors[n]!);
  }

  settled(collection: string): Promise<void> {
    return this.allIndexed(collection);
  }

  async holds(collection: string, id: number): Promise<boolean> {
    return (await this.client.fetch(collection, [String(id)])).observations.length === 1;
  }

  async buildIndex(): Promise<void> {
    // indexed as it arrives
  }

  async search(collection: string, query: Float32Array, k: number): Promise<number[]> {
    const { hits } = await this.client.recall({ memorySpace: collection, vector: query, k });
    return hits.map((h) => Number(h.id));
  }

  residentBytes(): number {
    return processUsage(this.engine.process.pid!)?.rssBytes ?? 0;
  }

  diskBytes(): number {
    return directoryBytes(this.dataDir);
  }

  async close(): Promise<void> {
    for (const { stream } of this.sessions.values()) await stream.close({ drain: false }).catch(() => undefined);
    await this.engine.stop();
  }
}

class LanceStore implements PeerStore {
  private readonly tables = new Map<string, lancedb.Table>();

  private constructor(private readonly db: lancedb.Connection, private readonly dir: string, private readonly schema: Schema) {}

  static async open(dir: string, dimension: number): Promise<LanceStore> {
    const schema = new Schema([new Field('id', new Int32(), false), new Field('vector', new FixedSizeList(dimension, new Field('item', new Float32(), true)), false)]);
    return new LanceStore(await lancedb.connect(join(dir, 'lancedb')), join(dir, 'lancedb'), schema);
  }

  private async table(collection: string): Promise<lancedb.Table> {
    let table = this.tables.get(collection);
    if (!table) {
      table = await this.db.createEmptyTable(collection, this.schema, { mode: 'overwrite' });
      this.tables.set(collection, table);
    }
    return table;
  }

  async write(collection: string, id: number, vector: Float32Array): Promise<void> {
    // searchable once add returns: rows outside the index are searched exhaustively
    await (await this.table(collection)).add([{ id, vector }]);
  }

  insertOne(collection: string, id: number, vector: Float32Array): Promise<void> {
    return this.write(collection, id, vector);
  }

  async insertMany(collection: string, ids: number[], vectors: Float32Array[], batch: number): Promise<void> {
    const table = await this.table(collection);
    for (let start = 0; start < ids.length; start += batch) {
      await table.add(ids.slice(start, start + batch).map((id, n) => ({ id, vector: vectors[start + n]! })));
    }
  }

  ingest(collection: string, ids: number[], vectors: Float32Array[]): Promise<void> {
    return this.insertMany(collection, ids, vectors, 100);
  }

  async settled(): Promise<void> {
    // searchable once add returns
  }

  async holds(collection: string, id: number): Promise<boolean> {
    return (await (await this.table(collection)).countRows(`id = ${id}`)) === 1;
  }

  async buildIndex(collection: string): Promise<void> {
    const table = await this.table(collection);
    // one partition: one HNSW graph over every row, as the other two build (LanceDB's advice for HNSW)
    await table.createIndex('vector', { config: lancedb.Index.hnswSq({ distanceType: 'cosine', m: HNSW.m, efConstruction: HNSW.efConstruction, numPartitions: 1 }), replace: true });
  }

  async search(collection: string, query: Float32Array, k: number): Promise<number[]> {
    const rows = await (await this.table(collection)).vectorSearch(query).distanceType('cosine').limit(k).ef(HNSW.efSearch).select(['id', '_distance']).toArray() as Array<{ id: number }>;
    return rows.map((r) => r.id);
  }

  residentBytes(): number {
    return selfResidentBytes();
  }

  diskBytes(): number {
    return directoryBytes(this.dir);
  }

  async close(): Promise<void> {
    for (const table of this.tables.values()) table.close();
    this.db.close();
  }
}

class HnswlibStore implements PeerStore {
  private readonly indexes = new Map<string, InstanceType<typeof hnswlib.HierarchicalNSW>>();
  private readonly point: number[];

  constructor(private readonly dir: string, private readonly dimension: number) {
    this.point = new Array<number>(dimension).fill(0);
  }

  private index(collection: string): InstanceType<typeof hnswlib.HierarchicalNSW> {
    let index = this.indexes.get(collection);
    if (!index) {
      index = new hnswlib.HierarchicalNSW('cosine', this.dimension);
      index.initIndex({ maxElements: 1024, m: HNSW.m, efConstruction: HNSW.efConstruction, allowReplaceDeleted: false });
      index.setEf(HNSW.efSearch);
      this.indexes.set(collection, index);
    }
    return index;
  }

  private add(index: InstanceType<typeof hnswlib.HierarchicalNSW>, id: number, vector: Float32Array): void {
    // grown by doubling, as an application holding its own index would
    if (index.getCurrentCount() >= index.getMaxElements()) index.resizeIndex(index.getMaxElements() * 2);
    for (let d = 0; d < this.dimension; d++) this.point[d] = vector[d]!;
    index.addPoint(this.point, id);
  }

  async write(collection: string, id: number, vector: Float32Array): Promise<void> {
    this.add(this.index(collection), id, vector);
  }

  insertOne(collection: string, id: number, vector: Float32Array): Promise<void> {
    return this.write(collection, id, vector);
  }

  async insertMany(collection: string, ids: number[], vectors: Float32Array[]): Promise<void> {
    const index = this.index(collection);
    for (const [n, id] of ids.entries()) this.add(index, id, vectors[n]!);
  }

  ingest(collection: string, ids: number[], vectors: Float32Array[]): Promise<void> {
    return this.insertMany(collection, ids, vectors);
  }

  async settled(): Promise<void> {
    // searchable once addPoint returns
  }

  async holds(collection: string, id: number): Promise<boolean> {
    return this.index(collection).getIdsList().includes(id);
  }

  async buildIndex(): Promise<void> {
    // indexed as it arrives
  }

  async search(collection: string, query: Float32Array, k: number): Promise<number[]> {
    const index = this.index(collection);
    return index.searchKnn(Array.from(query), Math.min(k, index.getCurrentCount())).neighbors;
  }

  residentBytes(): number {
    return selfResidentBytes();
  }

  /** hnswlib keeps nothing on disk by itself: what its saved indexes take. */
  diskBytes(): number {
    const files = join(this.dir, 'hnswlib');
    rmSync(files, { recursive: true, force: true });
    mkdirSync(files, { recursive: true });
    let bytes = 0;
    for (const [name, index] of this.indexes) {
      const file = join(files, `${name}.bin`);
      index.writeIndexSync(file);
      bytes += statSync(file).size;
    }
    return bytes;
  }

  async close(): Promise<void> {
    this.indexes.clear();
  }
}
