// `engram observe`: streams observations from a JSON-lines file or a generator of clustered
// vectors into a memory space, with a progress line, resending whatever the engine pushes back.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { EngramClient } from '../client/engram-client.js';
import type { ObservationInput } from '../client/observation-stream.js';
import { EngramError } from '../errors.js';
import { ClusteredVectors } from '../synthetic/clustered-vectors.js';
import type { Connection } from './connection-flags.js';
import { Progress } from './progress.js';

export interface ObserveFlags {
  connection: Connection;
  space: string;
  file?: string;
  generate?: number;
  seed: number;
  batch: number;
  tenant?: string;
}

async function* fromFile(path: string): AsyncGenerator<ObservationInput> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (!line.trim()) continue;
    let o: ObservationInput;
    try {
      o = JSON.parse(line) as ObservationInput;
    } catch (e) {
      throw new EngramError('INVALID_ARGUMENT', `${path}:${n}: not JSON (${(e as Error).message})`);
    }
    if (typeof o.id !== 'string' || !Array.isArray(o.embedding)) {
      throw new EngramError('INVALID_ARGUMENT', `${path}:${n}: each line needs "id" (string) and "embedding" (array of numbers)`);
    }
    yield o;
  }
}

function* generated(count: number, dimension: number, seed: number, space: string): Generator<ObservationInput> {
  const vectors = new ClusteredVectors({ dimension, seed });
  for (let i = 0; i < count; i++) {
    yield { id: `${space}-${i}`, embedding: vectors.next(), content: `synthetic observation ${i}`, metadata: { source: 'engram observe --generate' } };
  }
}

export async function observeCommand(flags: ObserveFlags): Promise<void> {
  if (!flags.file && flags.generate === undefined) throw new EngramError('INVALID_ARGUMENT', 'observe needs --file PATH or --generate N');
  const client = new EngramClient(flags.connection.address, flags.connection.options);
  try {
    const stream = await client.openStream({ memorySpace: flags.space, maxBatch: flags.batch, ...(flags.tenant ? { tenant: flags.tenant } : {}) });
    const dimension = stream.init.capabilities?.dimension ?? 768;
    const progress = new Progress(flags.generate ?? null);
    stream.on('progress', (c) => progress.update(c));
    stream.on('rejected', (ack) => process.stderr.write(`\nrejected ${ack.firstSequence}-${ack.lastSequence}: ${ack.reason}\n`));
    const source = flags.file ? fromFile(flags.file) : generated(flags.generate ?? 0, dimension, flags.seed, flags.space);
    for await (const o of source) await stream.send(o);
    const counts = await stream.close({ drain: true });
    progress.done(counts);
  } finally {
    client.close();
  }
}
