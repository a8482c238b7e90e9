// The canary cohort: which memory spaces canary pods serve. A space's place in [0, 1) is a hash of
// its name, so the cohort at a weight is "every space below a threshold": a space never leaves the
// cohort as the weight grows, and every operator computes the same cohort.
import { createHash } from 'node:crypto';
import { HashRing } from '@engram/engine/client';

/** Half the distance between two buckets: a threshold just above one bucket and below the next. */
const HALF_STEP = 2 ** -33;

/** Where a space falls in [0, 1): the first 32 bits of sha256 of its name. */
export function bucketOf(space: string): number {
  return createHash('sha256').update(space).digest().readUInt32BE(0) / 2 ** 32;
}

export function inCohort(space: string, threshold: number): boolean {
  return bucketOf(space) < threshold;
}

/**
 * The threshold that puts `weight` percent of `spaces` in the cohort, rounded up to whole spaces
 * (5% of 20 spaces is 1 space; any weight above 0 takes at least one). Without spaces yet it is the
 * weight itself (the share of all possible names). Never below `previous`: the cohort only grows
 * within a rollout; spaces created later fall on either side by their own hash.
 */
export function cohortThreshold(weight: number, spaces: readonly string[], previous = 0): number {
  if (weight >= 100) return 1;
  if (weight <= 0) return 0;
  const buckets = spaces.map(bucketOf).sort((a, b) => a - b);
  const wanted = Math.ceil((weight / 100) * buckets.length);
  const threshold = wanted === 0 ? weight / 100 : buckets[wanted - 1]! + HALF_STEP;
  return Math.max(previous, threshold);
}

/** Canary pods for a weight: enough to hold their share of the ring's spaces, at least one. */
export function canaryPodsFor(weight: number, ring: number): number {
  return weight <= 0 ? 0 : Math.max(1, Math.ceil((ring * weight) / 100));
}

/** The canary pod (StatefulSet ordinal) a cohort space goes to. */
export function canaryOwner(space: string, canaryOrdinals: readonly number[]): number {
  return new HashRing([...canaryOrdinals]).lookup(`space:${space}`);
}
