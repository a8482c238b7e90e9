// Worker thread for the raw baseline: builds its own index from the vectors it is sent and reports
// inserts per second (no engine, no queue, no messages per insert).
import { parentPort, workerData } from 'node:worker_threads';
import { rawInsertRate } from './raw-hnsw.js';

const { vectors, dimension, m, efConstruction } = workerData as { vectors: Float32Array; dimension: number; m: number; efConstruction: number };
parentPort?.postMessage(rawInsertRate(vectors, dimension, m, efConstruction));
