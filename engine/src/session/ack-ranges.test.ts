import { describe, expect, it } from 'vitest';
import { AckRanges } from './ack-ranges.js';

describe('AckRanges', () => {
  it('folds consecutive sequences with one status into one range, and splits on a change', () => {
    const acks = new AckRanges();
    for (const s of [1, 2, 3]) acks.accepted(s);
    acks.rejected(4, { code: 'REJECT_INVALID_OBSERVATION', reason: 'bad', retryAfterMs: 0 });
    acks.accepted(5);
    for (const s of [6, 7]) acks.rejected(s, { code: 'REJECT_BACKPRESSURE', reason: 'full', retryAfterMs: 5 });
    expect(acks.acks.map((a) => [a.status, a.firstSequence, a.lastSequence, a.code])).toEqual([
      ['ACCEPTED', 1, 3, 'REJECT_CODE_UNSPECIFIED'],
      ['REJECTED', 4, 4, 'REJECT_INVALID_OBSERVATION'],
      ['ACCEPTED', 5, 5, 'REJECT_CODE_UNSPECIFIED'],
      ['REJECTED', 6, 7, 'REJECT_BACKPRESSURE'],
    ]);
  });
});
