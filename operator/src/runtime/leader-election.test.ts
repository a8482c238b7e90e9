import { describe, expect, it } from 'vitest';
import { microTime } from './leader-election.js';

describe('microTime', () => {
  it('writes six fractional digits, the only form the API server parses for a Lease', () => {
    expect(microTime(Date.UTC(2026, 10, 27, 19, 58, 56, 821))).toBe('2026-11-27T19:58:56.821000Z');
    expect(microTime(Date.UTC(2026, 0, 1))).toBe('2026-01-01T00:00:00.000000Z');
  });
});
