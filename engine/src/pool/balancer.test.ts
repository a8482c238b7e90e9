import { describe, expect, it } from 'vitest';
import { chooseSteal, type WorkerLoad } from './balancer.js';

const busy: WorkerLoad = {
  id: 0, queued: 3000, idle: false,
  spaces: [{ space: 'hot', queued: 2000, inFlight: 2 }, { space: 'warm', queued: 1000, inFlight: 0 }],
};
const idle: WorkerLoad = { id: 1, queued: 0, idle: true, spaces: [] };

describe('chooseSteal', () => {
  it('moves the waiting space that is not being indexed to the idle worker', () => {
    expect(chooseSteal([busy, idle], 1000)).toEqual({ space: 'warm', from: 0, to: 1 });
  });
  it('does nothing while the busy worker is under the threshold', () => {
    expect(chooseSteal([busy, idle], 5000)).toBeNull();
  });
  it('does nothing when no worker is idle', () => {
    expect(chooseSteal([busy, { ...idle, idle: false }], 100)).toBeNull();
  });
  it('does not move a worker\'s only waiting space (that would just move the bottleneck)', () => {
    const single: WorkerLoad = { ...busy, spaces: [{ space: 'hot', queued: 3000, inFlight: 1 }] };
    expect(chooseSteal([single, idle], 100)).toBeNull();
  });
  it('is off when the threshold is 0', () => {
    expect(chooseSteal([busy, idle], 0)).toBeNull();
  });
});
