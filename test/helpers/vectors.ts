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
