// The tuning guide's adaptive batching rule: the minimum batch below 10% queue fill, the maximum
// above 80%, and a straight line between the two fills.

const LOW_FILL = 0.1;
const HIGH_FILL = 0.8;

export function adaptiveBatchSize(depth: number, capacity: number, min: number, max: number): number {
  const fill = capacity > 0 ? depth / capacity : 1;
  if (fill < LOW_FILL) return min;
  if (fill > HIGH_FILL) return max;
  const t = (fill - LOW_FILL) / (HIGH_FILL - LOW_FILL);
  return Math.round(min + t * (max - min));
}
