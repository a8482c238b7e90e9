// Deterministic clustered embeddings for demos, tests and benchmarks. Uniform random vectors are a
// pathological case for HNSW (recall@10 of 0.1-0.5 at 768 dimensions); real embeddings cluster,
// so these do: points scattered around a fixed number of random centres.

/** mulberry32: a small, fast, seedable PRNG (same seed, same data, on every machine). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ClusteredOptions {
  dimension: number;
  clusters?: number;
  /** Spread of points around their centre, relative to the centres' spread. */
  spread?: number;
  seed?: number;
}

export class ClusteredVectors {
  private readonly random: () => number;
  private readonly centres: Float32Array[];
  private readonly spread: number;

  constructor(readonly options: ClusteredOptions) {
    this.random = seededRandom(options.seed ?? 42);
    this.spread = options.spread ?? 0.25;
    this.centres = Array.from({ length: options.clusters ?? 64 }, () => this.gaussianVector(1));
  }

  private gaussian(): number {
    const u = Math.max(this.random(), Number.EPSILON);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.random());
  }

  private gaussianVector(scale: number): Float32Array {
    const v = new Float32Array(this.options.dimension);
    for (let i = 0; i < v.length; i++) v[i] = this.gaussian() * scale;
    return v;
  }

  /** The next vector: a random centre plus gaussian noise. */
  next(): Float32Array {
    const centre = this.centres[Math.floor(this.random() * this.centres.length)] as Float32Array;
    const v = this.gaussianVector(this.spread);
    for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) + (centre[i] as number);
    return v;
  }

  take(n: number): Float32Array[] {
    return Array.from({ length: n }, () => this.next());
  }
}
