// Test data: clustered vectors (the engine's own generator) with ids.
import { ClusteredVectors } from '../../engine/dist/synthetic/clustered-vectors.js';

export function clusteredObservations(space: string, count: number, dimension: number, seed = 1) {
  const vectors = new ClusteredVectors({ dimension, seed });
  return Array.from({ length: count }, (_, i) => ({ id: `${space}-${i}`, embedding: vectors.next(), content: `obs ${i}`, metadata: { n: String(i) } }));
}

/** Reads one sample's value from Prometheus text, matching the metric name and label subset. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const body = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`))) return Number(m[3]);
  }
  return undefined;
}

/**
 * Decimal digits a stored vector keeps of what was sent (toBeCloseTo's precision): all of f32's
 * under hnswlib; under ENGRAM_TEST_BACKEND=usearch the engines store f16, whose 11 significant
 * bits keep each component within 2^-11 of itself (6e-5 at 0.13).
 */
export const STORED_DIGITS = process.env.ENGRAM_TEST_BACKEND === 'usearch' ? 3 : 5;
