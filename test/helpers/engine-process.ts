// The engine package's own launcher, shared with the benchmarks.
export { startEngine, type EngineProcess } from '../../engine/dist/testing/engine-process.js';
