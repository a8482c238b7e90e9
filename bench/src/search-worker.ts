// `bench:recall-floor`'s bare server searches an hnswlib index of the same data as the engine's
// space (same build, M, efConstruction and efSearch) on its event loop, and on a worker thread
// (this module is also that thread's script): the least a recall can cost served either way.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { hnswlib } from '@engram/engine/hnswlib';
import { ClusteredVectors } from '@engram/engine/synthetic';

export interface Neighbours { neighbors: number[]; distances: number[] }

/** An index of the engine's data: its build, the balanced profile's M and efConstruction, efSearch 64. */
export function floorIndex(count: number, dimension: number, seed: number): InstanceType<typeof hnswlib.HierarchicalNSW> {
  const index = new hnswlib.HierarchicalNSW('cosine', dimension);
  index.initIndex({ maxElements: count, m: 16, efConstruction: 200 });
  new ClusteredVectors({ dimension, seed }).take(count).forEach((v, i) => index.addPoint(Array.from(v), i));
  index.setEf(64);
  return index;
}

/** `floorIndex`'s search of raw query bytes, as a server receives them. */
export function searchableIndex(count: number, dimension: number, seed: number): (query: Uint8Array) => Neighbours {
  const index = floorIndex(count, dimension, seed);
  return (query) => {
    const vector = new Float32Array(query.buffer.slice(query.byteOffset, query.byteOffset + query.byteLength));
    return index.searchKnn(Array.from(vector), 10);
  };
}

if (!isMainThread) {
  const { count, dimension, seed } = workerData as { count: number; dimension: number; seed: number };
  const search = searchableIndex(count, dimension, seed);
  parentPort!.on('message', (query: Uint8Array) => parentPort!.postMessage(search(query)));
  parentPort!.postMessage('ready');
}
