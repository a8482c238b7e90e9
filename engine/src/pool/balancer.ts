// Work stealing, decided by a pure function of the workers' loads. The unit of stealing is a whole
// memory space with its index: a space's index has one writer, so an idle worker can only help a
// busy one by taking over one of its spaces. Taking the busy worker's only space would just move
// the bottleneck (and pay for moving the index), so a steal needs a victim with two or more spaces
// waiting; the space that moves is the one with the most waiting among those not being indexed.

export interface SpaceLoad {
  space: string;
  queued: number;
  inFlight: number;
}

export interface WorkerLoad {
  id: number;
  /** Observations queued for the spaces the worker owns. */
  queued: number;
  /** Nothing queued for it and nothing in flight. */
  idle: boolean;
  spaces: SpaceLoad[];
}

export interface StealDecision {
  space: string;
  from: number;
  to: number;
}

export function chooseSteal(loads: readonly WorkerLoad[], stealThreshold: number): StealDecision | null {
  if (stealThreshold <= 0) return null;
  const thief = loads.find((w) => w.idle);
  if (!thief) return null;
  let victim: WorkerLoad | undefined;
  for (const w of loads) if (w.queued > stealThreshold && (!victim || w.queued > victim.queued)) victim = w;
  if (!victim || victim.id === thief.id) return null;
  const waiting = victim.spaces.filter((s) => s.queued > 0);
  if (waiting.length < 2) return null;
  waiting.sort((a, b) => a.inFlight - b.inFlight || b.queued - a.queued);
  const pick = waiting[0] as SpaceLoad;
  return { space: pick.space, from: victim.id, to: thief.id };
}
