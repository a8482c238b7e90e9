// A client load for resize drills, written like a careful user's client: one writer per memory
// space streams numbered observations to whichever engine pod it picks, and when its stream is
// ended (a space moved, a pod stopped) it reconnects to a pod picked again and resends what was not
// acknowledged; recallers query random spaces through random pods. It records every id the engine
// ACCEPTED (what must never be lost), every recall failure by code, and the longest time a writer
// went without an acknowledgement (the write pause a resize caused).
import { performance } from 'node:perf_hooks';
import { EngramClient, type ClientOptions } from '../../engine/dist/client/engram-client.js';
import type { ObservationStream } from '../../engine/dist/client/observation-stream.js';
import { ClusteredVectors } from '../../engine/dist/synthetic/clustered-vectors.js';

export interface SpaceLoadOptions {
  spaces: string[];
  dimension: number;
  /** Current engine addresses (host:port); called on every (re)connect. */
  addresses(): Promise<string[]>;
  /** Observations per second per space (paced). */
  ratePerSpace: number;
  /** Recalls per second over all spaces. */
  recallsPerSecond: number;
  /** k of each recall (default 5). */
  recallK?: number;
  /** How clients reach the engines (an API key, TLS). */
  clientOptions?: ClientOptions;
}

export interface SpaceLoadReport {
  acknowledged: Map<string, Set<string>>;
  sent: Map<string, Set<string>>;
  reconnects: number;
  recalls: number;
  recallFailures: Record<string, number>;
  /** Longest gap between two acknowledgements of one space, in ms, per space. */
  longestAckGapMs: Map<string, number>;
  /** Writers that had not finished when stop() gave up on them, with what each was doing. */
  stuck: Record<string, string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pick = <T>(list: T[]): T => list[Math.floor(Math.random() * list.length)] as T;

export class SpaceLoad {
  private running = true;
  private readonly clients = new Map<string, EngramClient>();
  private readonly tasks: Array<Promise<void>> = [];
  /** Every vector sent, by id (to check what a recall returns). */
  private readonly vectors = new Map<string, Float32Array>();
  readonly report: SpaceLoadReport = {
    acknowledged: new Map(), sent: new Map(), reconnects: 0, recalls: 0, recallFailures: {}, longestAckGapMs: new Map(), stuck: {},
  };
  /** What each writer does now (reported for a writer that does not finish). */
  private readonly doing = new Map<string, string>();
  private readonly streams = new Map<string, ObservationStream>();
  private abandoned = false;
  private stopping: Promise<SpaceLoadReport> | null = null;

  constructor(private readonly options: SpaceLoadOptions) {
    for (const space of options.spaces) {
      this.report.acknowledged.set(space, new Set());
      this.report.sent.set(space, new Set());
      this.report.longestAckGapMs.set(space, 0);
      this.tasks.push(this.write(space));
    }
    this.tasks.push(this.recall());
  }

  private client(address: string): EngramClient {
    let c = this.clients.get(address);
    if (!c) {
      c = new EngramClient(address, { deadlineMs: 5000, ...this.options.clientOptions });
      this.clients.set(address, c);
    }
    return c;
  }

  private async write(space: string): Promise<void> {
    const vectors = new ClusteredVectors({ dimension: this.options.dimension, seed: space.length * 7919 + space.charCodeAt(space.length - 1) });
    const cache = this.vectors;
    const acked = this.report.acknowledged.get(space)!;
    const sent = this.report.sent.get(space)!;
    let resend: string[] = [];
    let n = 0;
    let lastAck = performance.now();
    const gap = (): void => {
      const now = performance.now();
      this.report.longestAckGapMs.set(space, Math.max(this.report.longestAckGapMs.get(space)!, now - lastAck));
      lastAck = now;
    };
    const interval = 1000 / this.options.ratePerSpace;
    while ((this.running || resend.length > 0) && !this.abandoned) {
      let stream: ObservationStream;
      const address = pick(await this.options.addresses());
      try {
        this.doing.set(space, `opening a stream to ${address}`);
        stream = await this.client(address).openStream({ memorySpace: space, maxBatch: 16, maxInFlight: 64 });
        this.streams.set(space, stream);
      } catch {
        this.report.reconnects++;
        await sleep(100);
        continue;
      }
      // acked ids: the stream numbers observations in send order from 1
      const bySequence: string[] = [];
      stream.on('ack', (ack) => {
        if (ack.status !== 'ACCEPTED') return;
        for (let s = Number(ack.firstSequence); s <= Number(ack.lastSequence); s++) {
          const id = bySequence[s - 1];
          if (id) acked.add(id);
        }
        gap();
      });
      stream.on('error', () => undefined);
      try {
        this.doing.set(space, `resending ${resend.length} to ${address}`);
        for (const id of resend) {
          bySequence.push(id);
          await stream.send({ id, embedding: cache.get(id)! });
        }
        resend = [];
        this.doing.set(space, `sending to ${address}`);
        while (this.running) {
          const id = `${space}-${n++}`;
          const vector = vectors.next();
          cache.set(id, vector);
          sent.add(id);
          bySequence.push(id);
          await stream.send({ id, embedding: vector });
          await sleep(interval);
        }
        this.doing.set(space, `closing the stream to ${address}`);
        await stream.close({ drain: false });
        this.doing.delete(space);
      } catch {
        this.report.reconnects++;
        resend = stream.unacceptedIds();
        stream.cancel();
        await sleep(50);
        continue;
      }
    }
  }

  private async recall(): Promise<void> {
    const query = new ClusteredVectors({ dimension: this.options.dimension, seed: 99 });
    while (this.running) {
      await sleep(1000 / this.options.recallsPerSecond);
      const space = pick(this.options.spaces.filter((s) => this.report.acknowledged.get(s)!.size > 0));
      if (!space) continue;
      try {
        await this.client(pick(await this.options.addresses())).recall({ memorySpace: space, vector: query.next(), k: this.options.recallK ?? 5 });
        this.report.recalls++;
      } catch (e) {
        const code = String((e as { code?: number }).code ?? 'none');
        this.report.recallFailures[code] = (this.report.recallFailures[code] ?? 0) + 1;
      }
    }
  }

  vectorOf(id: string): Float32Array | undefined {
    return this.vectors.get(id);
  }

  /**
   * Stops sending; resolves once every writer has its last observations acknowledged or given up.
   * A writer still busy after `deadlineMs` is cancelled and listed in `stuck` with what it was doing.
   */
  stop(deadlineMs = 60_000): Promise<SpaceLoadReport> {
    this.stopping ??= this.stopWriters(deadlineMs);
    return this.stopping;
  }

  private async stopWriters(deadlineMs: number): Promise<SpaceLoadReport> {
    this.running = false;
    const all = Promise.all(this.tasks);
    const finished = await Promise.race([all.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), deadlineMs))]);
    if (!finished) {
      // what each stuck writer was doing, and what its stream was waiting for
      for (const [space, what] of this.doing) this.report.stuck[space] = `${what}: ${JSON.stringify(this.streams.get(space)?.state() ?? null)}`;
      this.abandoned = true;
      for (const space of Object.keys(this.report.stuck)) this.streams.get(space)?.cancel();
      await Promise.race([all, new Promise((r) => setTimeout(r, 5000))]);
    }
    for (const c of this.clients.values()) c.close();
    return this.report;
  }
}
