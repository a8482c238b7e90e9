// This engine's view of its stream's placement: the installed placement (none for a stand-alone
// engine, which owns every space), whether the operator confirmed it since the engine started,
// and the spaces it is handing over (fenced: writes refused while the new owner takes the last
// records; sealed: verified static copy, refused until the space is released). The placement is
// kept in the data directory, so a restarted engine still routes; but with more than one member it
// takes no writes until the operator confirms a generation at least as new, since the space may
// have moved on while it was down (no split brain).
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { EngramError } from '../errors.js';
import { writeFileDurably } from '../wal/durable-files.js';
import { parsePlacement, type Placement, type PlacementMember } from './placement.js';

export type Route = { local: true } | { local: false; owner: PlacementMember; generation: number };

interface Fence {
  handoffId: string;
  sealed: boolean;
  since: number;
}

const FILE = 'placement.json';
/** Response metadata of a PLACEMENT_ORPHANS refusal: the spaces, comma-separated, for the operator to pin. */
export const ORPHANS_HEADER = 'engram-orphaned-spaces';

export class Membership {
  private installed: Placement | null = null;
  private confirmedSinceStart = false;
  private readonly fences = new Map<string, Fence>();

  /** `self`: this pod's name (null: a stand-alone engine). `dataDir`: where the placement is kept. */
  constructor(readonly self: string | null, private readonly dataDir: string | null) {}

  /** Reads the placement kept from before a restart, if any. */
  async load(): Promise<void> {
    if (!this.dataDir || !this.self) return;
    const json = await readFile(join(this.dataDir, FILE), 'utf8').catch(() => null);
    if (json) this.installed = parsePlacement(json);
  }

  get placement(): Placement | null {
    return this.installed;
  }

  get generation(): number {
    return this.installed?.generation ?? 0;
  }

  /**
   * True once writes may go by the installed placement: always for a stand-alone engine; for a
   * member, once the operator installed one since the engine started, or at once when the kept
   * placement has a single member (nobody else can own anything).
   */
  get confirmed(): boolean {
    if (!this.self || this.confirmedSinceStart) return true;
    return this.installed !== null && this.installed.spec.members.length <= 1;
  }

  route(space: string): Route {
    const placement = this.installed;
    if (!placement || !this.self) return { local: true };
    const owner = placement.ownerOf(space);
    return owner.name === this.self ? { local: true } : { local: false, owner, generation: placement.generation };
  }

  owns(space: string): boolean {
    return this.route(space).local;
  }

  /**
   * Installs a placement. Refused if older than the installed one, or if it would give a space this
   * engine owns and holds (`held`) to another pod without a hand-off having sealed it: its data
   * would be left behind.
   */
  async install(next: Placement, held: readonly string[]): Promise<void> {
    if (!this.self) throw new EngramError('CLUSTER_DISABLED', 'this engine runs stand-alone (started without --member-name): it takes no placement');
    if (!next.memberNamed(this.self)) throw new EngramError('INVALID_ARGUMENT', `the placement does not list this engine (${this.self}) as a member`);
    if (next.generation < this.generation) {
      throw new EngramError('PLACEMENT_STALE', `placement generation ${next.generation} is older than the installed ${this.generation}`);
    }
    const orphaned = held.filter((space) => this.owns(space) && !this.fences.get(space)?.sealed && next.ownerOf(space).name !== this.self);
    if (orphaned.length > 0) {
      throw new EngramError('PLACEMENT_ORPHANS', `placement generation ${next.generation} gives memory spaces this engine holds to other pods without a hand-off: ${orphaned.join(', ')}`, {
        details: { [ORPHANS_HEADER]: orphaned.join(',') },
      });
    }
    if (this.dataDir) {
      const tmp = join(this.dataDir, `${FILE}.tmp`);
      await writeFileDurably(tmp, JSON.stringify(next.spec));
      await rename(tmp, join(this.dataDir, FILE));
    }
    this.installed = next;
    this.confirmedSinceStart = true;
  }

  /** Why a write to `space` must wait (retryable), or null. */
  writeRefusal(space: string): string | null {
    const fence = this.fences.get(space);
    if (fence) return `memory space '${space}' is being handed to another pod of the stream; writes resume there in a moment`;
    if (!this.confirmed) return 'this engine waits for the operator to confirm which memory spaces it owns (it started, or restarted, in a multi-pod stream)';
    return null;
  }

  fence(space: string, handoffId: string): void {
    const current = this.fences.get(space);
    if (current?.sealed) return;
    this.fences.set(space, { handoffId, sealed: false, since: Date.now() });
  }

  seal(space: string): void {
    const fence = this.fences.get(space);
    if (fence) fence.sealed = true;
  }

  /** Lifts a fence that was not sealed (the hand-off broke off before the copy was verified). */
  unfence(space: string, handoffId: string): void {
    const fence = this.fences.get(space);
    if (fence && !fence.sealed && fence.handoffId === handoffId) this.fences.delete(space);
  }

  isFenced(space: string): boolean {
    return this.fences.has(space);
  }

  isSealed(space: string): boolean {
    return this.fences.get(space)?.sealed === true;
  }

  sealed(): string[] {
    return [...this.fences].filter(([, f]) => f.sealed).map(([space]) => space);
  }

  /** The space was released: its fence goes with it. */
  forget(space: string): void {
    this.fences.delete(space);
  }
}
