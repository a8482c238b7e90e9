// The engine's one bounded queue. Observations wait here, per memory space, until a worker takes
// them; recalls hold a slot of the high-priority share while they run. The capacity is split:
// `highPriorityRatio` of it is reserved for recalls, the rest bounds queued observations, so
// memory is bounded by capacity x observation size whatever clients do.
import { Fifo } from './fifo.js';

/** Where a queued observation's outcome is reported (the session that accepted it). */
export interface IndexSink {
  indexed(first: number, last: number): void;
  failed(sequence: number, reason: string): void;
}

export interface QueuedObservation {
  readonly space: string;
  readonly id: string;
  readonly sequence: number;
  readonly sink: IndexSink;
  readonly vector: Float32Array;
  readonly content: string;
  readonly metadata: Record<string, string> | null;
  /** performance.now() when accepted. */
  readonly acceptedAt: number;
  /** Its write-ahead-log sequence number (0 when the engine runs without a data directory). */
  lsn: number;
}

/** Bytes a queued observation holds beyond its vector: object, strings, metadata (an estimate). */
const OVERHEAD_BYTES = 256;

function sizeOf(o: QueuedObservation): number {
  return o.vector.byteLength + OVERHEAD_BYTES + o.id.length * 2 + o.content.length * 2;
}

/** Sees every observation queued for one space (a hand-off copies them to the space's next owner). */
export type QueueTap = (items: readonly QueuedObservation[]) => void;

export class IngestQueue {
  private readonly bySpace = new Map<string, Fifo<QueuedObservation>>();
  private readonly taps = new Map<string, Set<QueueTap>>();
  private observations = 0;
  /** Slots promised to observations being written to the log, not yet pushed. */
  private reserved = 0;
  private recalls = 0;
  private bytes = 0;
  private capacity = 0;
  private recallCapacity = 0;

  constructor(capacity: number, highPriorityRatio: number) {
    this.resize(capacity, highPriorityRatio);
  }

  /** Changes the bounds live. A queue already over a smaller bound keeps what it holds and drains. */
  resize(capacity: number, highPriorityRatio: number): void {
    this.recallCapacity = Math.max(1, Math.round(capacity * highPriorityRatio));
    this.capacity = Math.max(1, capacity - this.recallCapacity);
  }

  get depth(): number {
    return this.observations;
  }

  get observationCapacity(): number {
    return this.capacity;
  }

  get recallDepth(): number {
    return this.recalls;
  }

  get recallCapacityLimit(): number {
    return this.recallCapacity;
  }

  get memoryBytes(): number {
    return this.bytes;
  }

  /**
   * Admitted observations (queued, and being logged: their slots are taken) over the capacity of
   * the observation share: a queue refusing for room may hold fewer queued observations than
   * its capacity, the rest of its slots taken by observations the log is writing.
   */
  get pressure(): number {
    return (this.observations + this.reserved) / this.capacity;
  }

  /** Slots held for admitted observations while the log writes them. */
  get reservedSlots(): number {
    return this.reserved;
  }

  /** Observation slots free now (slots reserved for observations being logged are not). */
  get free(): number {
    return Math.max(0, this.capacity - this.observations - this.reserved);
  }

  /** Holds `n` slots for observations admitted now and pushed once the log has them. */
  reserve(n: number): void {
    this.reserved += n;
  }

  /** Gives back reserved slots (the push that would have used them is not coming). */
  release(n: number): void {
    this.reserved = Math.max(0, this.reserved - n);
  }

  depthOf(space: string): number {
    return this.bySpace.get(space)?.length ?? 0;
  }

  /** The oldest waiting observation of a space, if any. */
  oldest(space: string): QueuedObservation | undefined {
    return this.bySpace.get(space)?.peek();
  }

  /**
   * Calls `tap` with every observation pushed for `space` from now on, and returns what is queued
   * for it now. The returned function removes the tap.
   */
  tap(space: string, tap: QueueTap): { queued: QueuedObservation[]; untap: () => void } {
    let set = this.taps.get(space);
    if (!set) {
      set = new Set();
      this.taps.set(space, set);
    }
    set.add(tap);
    const untap = (): void => {
      set.delete(tap);
      if (set.size === 0 && this.taps.get(space) === set) this.taps.delete(space);
    };
    return { queued: this.bySpace.get(space)?.toArray() ?? [], untap };
  }

  /** Appends observations already admitted (the caller checked `free`; `reserved` of them had slots held). */
  push(space: string, items: readonly QueuedObservation[], reserved = 0): void {
    for (const tap of this.taps.get(space) ?? []) tap(items);
    const fifo = this.fifoOf(space);
    for (const item of items) {
      fifo.push(item);
      this.bytes += sizeOf(item);
    }
    this.observations += items.length;
    this.release(reserved);
  }

  /**
   * Puts observations back at the head of a space's queue, in order: work a failed worker took
   * with it, or log records replayed into a recovering space, which must be indexed before
   * anything queued after them. May exceed the capacity (clients are then pushed back).
   */
  pushFront(space: string, items: readonly QueuedObservation[]): void {
    this.fifoOf(space).unshift(items);
    for (const item of items) this.bytes += sizeOf(item);
    this.observations += items.length;
  }

  private fifoOf(space: string): Fifo<QueuedObservation> {
    let fifo = this.bySpace.get(space);
    if (!fifo) {
      fifo = new Fifo();
      this.bySpace.set(space, fifo);
    }
    return fifo;
  }

  take(space: string, max: number): QueuedObservation[] {
    const fifo = this.bySpace.get(space);
    if (!fifo) return [];
    const out = fifo.take(max);
    this.observations -= out.length;
    for (const item of out) this.bytes -= sizeOf(item);
    if (fifo.length === 0) this.bySpace.delete(space);
    return out;
  }

  /** Takes a high-priority slot for a recall; false when the recall share is full. */
  tryAdmitRecall(): boolean {
    if (this.recalls >= this.recallCapacity) return false;
    this.recalls++;
    return true;
  }

  releaseRecall(): void {
    this.recalls--;
  }
}
