// Whether this machine's CPU runs the x86-64-v3 hnswlib build (what an engine started here should pick).
import { readFileSync } from 'node:fs';

const V3_FLAGS = ['avx', 'avx2', 'fma', 'bmi1', 'bmi2', 'f16c', 'movbe'];

export function machineRunsV3(): boolean {
  if (process.arch !== 'x64') return false;
  const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags')) ?? '';
  const flags = new Set(line.slice(line.indexOf(':') + 1).trim().split(/\s+/));
  return V3_FLAGS.every((f) => flags.has(f));
}
