// The engine package's own launcher, shared with the benchmarks.
export { spacesOnWorker, startEngine, type EngineProcess } from '../../engine/dist/testing/engine-process.js';
