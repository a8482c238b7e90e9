// `engram recall`, `engram stats` and `engram config`: one RPC each, printed for people.
import { readFileSync } from 'node:fs';
import { EngramClient } from '../client/engram-client.js';
import { EngramError } from '../errors.js';
import type { Connection } from './connection-flags.js';
import { ClusteredVectors } from '../synthetic/clustered-vectors.js';

export interface RecallFlags {
  connection: Connection;
  space: string;
  vector?: string;
  random: boolean;
  seed: number;
  k: number;
  ef: number;
  minSimilarity?: number;
  json: boolean;
}

function parseVector(text: string): number[] {
  const v: unknown = JSON.parse(text.startsWith('@') ? readFileSync(text.slice(1), 'utf8') : text);
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number')) throw new EngramError('INVALID_ARGUMENT', '--vector must be a JSON array of numbers (or @file)');
  return v as number[];
}

export async function recallCommand(flags: RecallFlags): Promise<void> {
  const client = new EngramClient(flags.connection.address, flags.connection.options);
  try {
    let vector: number[] | Float32Array;
    if (flags.vector) vector = parseVector(flags.vector);
    else if (flags.random) {
      const { config } = await client.getConfig();
      const dimension = (config.hnsw as { dimension: number }).dimension;
      vector = new ClusteredVectors({ dimension, seed: flags.seed }).next();
    } else throw new EngramError('INVALID_ARGUMENT', 'recall needs --vector JSON|@file or --random');
    const started = performance.now();
    const result = await client.recall({
      memorySpace: flags.space, vector, k: flags.k, ef: flags.ef,
      ...(flags.minSimilarity !== undefined ? { minSimilarity: flags.minSimilarity } : {}),
    });
    const ms = performance.now() - started;
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    process.stdout.write(`${result.hits.length} of ${result.spaceSize} vectors in '${flags.space}' (${ms.toFixed(2)} ms)\n`);
    for (const [i, h] of result.hits.entries()) {
      process.stdout.write(`${String(i + 1).padStart(3)}  ${h.similarity.toFixed(4)}  ${h.id}  ${h.content.slice(0, 60)}\n`);
    }
  } finally {
    client.close();
  }
}

export async function statsCommand(connection: Connection): Promise<void> {
  const client = new EngramClient(connection.address, connection.options);
  try {
    process.stdout.write(`${JSON.stringify(await client.stats(), null, 2)}\n`);
  } finally {
    client.close();
  }
}

export interface ConfigFlags {
  connection: Connection;
  action: 'get' | 'apply';
  patch?: string;
  dryRun: boolean;
}

export async function configCommand(flags: ConfigFlags): Promise<void> {
  const client = new EngramClient(flags.connection.address, flags.connection.options);
  try {
    if (flags.action === 'get') {
      process.stdout.write(`${JSON.stringify(await client.getConfig(), null, 2)}\n`);
      return;
    }
    if (!flags.patch) throw new EngramError('INVALID_ARGUMENT', "config apply needs a JSON patch, e.g. '{\"workers\": 2}' (or @file.json)");
    const text = flags.patch.startsWith('@') ? readFileSync(flags.patch.slice(1), 'utf8') : flags.patch;
    let patch: Record<string, unknown>;
    try {
      patch = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw new EngramError('INVALID_ARGUMENT', `the patch is not JSON: ${(e as Error).message}`);
    }
    process.stdout.write(`${JSON.stringify(await client.applyConfig(patch, { dryRun: flags.dryRun }), null, 2)}\n`);
  } finally {
    client.close();
  }
}
