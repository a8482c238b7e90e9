import { describe, expect, it } from 'vitest';
import { adaptiveBatchSize } from './adaptive-batch.js';

describe('adaptiveBatchSize', () => {
  it.each([
    ['uses the minimum below 10% fill', 0, 10],
    ['uses the minimum just under 10% fill', 99, 10],
    ['interpolates at 10% fill', 100, 10],
    ['interpolates half way (45% fill)', 450, 255],
    ['interpolates at 80% fill', 800, 500],
    ['uses the maximum above 80% fill', 801, 500],
    ['uses the maximum when over capacity', 5000, 500],
  ])('%s', (_name, depth, expected) => {
    expect(adaptiveBatchSize(depth, 1000, 10, 500)).toBe(expected);
  });
});
