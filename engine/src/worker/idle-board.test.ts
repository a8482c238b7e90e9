import { describe, expect, it } from 'vitest';
import { IdleBoard } from './idle-board.js';

describe('IdleBoard.spareCores', () => {
  it('lends the cores of idle workers, never more than the busy ones leave free', () => {
    const board = IdleBoard.create();
    for (const id of [0, 1, 2, 3]) board.setBusy(id, false);
    board.setBusy(0, true);
    expect(board.spareCores(0, 4, 8)).toBe(3); // three idle workers, three free cores
    expect(board.spareCores(0, 2, 8)).toBe(1); // four workers on two cores: one core is free
    expect(board.spareCores(0, 4, 1)).toBe(1); // hnsw.insertThreads 2
    board.setBusy(1, true);
    expect(board.spareCores(0, 2, 8)).toBe(0);
    board.clear(2);
    board.clear(3);
    board.setBusy(1, false);
    expect(board.spareCores(0, 8, 8)).toBe(1); // stopped workers lend nothing
  });
});
