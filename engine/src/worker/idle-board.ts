// Which index workers are idle at this moment, in memory all of them share (one Int32 per worker
// id). A worker inserting a batch into a usearch index borrows cores for extra insert threads, one
// chunk of the batch at a time, only where both hold: a worker is idle (its core is unused by the
// pool), and the busy workers leave a core of the machine free (a profile may run more workers
// than there are cores). A lender that gets work back is contended for one chunk at most.
export const MAX_WORKER_IDS = 64;

const ABSENT = 0;
const IDLE = 1;
const BUSY = 2;

export class IdleBoard {
  constructor(readonly cells: Int32Array) {}

  static create(): IdleBoard {
    return new IdleBoard(new Int32Array(new SharedArrayBuffer(4 * MAX_WORKER_IDS)));
  }

  setBusy(id: number, busy: boolean): void {
    Atomics.store(this.cells, id, busy ? BUSY : IDLE);
  }

  /** The worker with this id has stopped (it lends nothing). */
  clear(id: number): void {
    Atomics.store(this.cells, id, ABSENT);
  }

  /**
   * Cores worker `id` (busy itself) may borrow now, up to `most`: no more than the idle workers,
   * nor than the cores the busy workers leave free.
   */
  spareCores(id: number, cores: number, most: number): number {
    let idle = 0;
    let busy = 1;
    for (let i = 0; i < this.cells.length; i++) {
      if (i === id) continue;
      const state = Atomics.load(this.cells, i);
      if (state === IDLE) idle++;
      else if (state === BUSY) busy++;
    }
    return Math.max(0, Math.min(idle, cores - busy, most));
  }
}
