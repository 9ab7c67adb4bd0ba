// The processes sharing one Redis, as each sees them. Every process writes its record into one hash
// every second with a beat number that goes up; a record whose beat has not moved for LIVE_MS, by this
// process's own clock, is not live (so hosts' clocks never have to agree). Records not moving for
// FORGET_MS are removed from the hash by whoever notices.

/** What a process publishes about itself each second. */
export interface MemberRecord {
  /** The instance's name (--instance): one per host, shared by its workers. */
  readonly name: string;
  /** Unique per process and start: `<name>/<process label>/<pid>/<random>`. */
  readonly process: string;
  readonly role: 'single' | 'primary' | 'worker';
  /** Whether it probes (single process or primary): it may hold leases. */
  readonly probes: boolean;
  /** sha256 of its mirrors.json. */
  readonly digest: string;
  readonly beat: number;
  /** Bytes it redirected to each mirror over the capacity window, by mirror name. */
  readonly load: Record<string, number>;
}

const LIVE_MS = 5000;
const FORGET_MS = 60_000;

export class Members {
  private readonly seen = new Map<string, { record: MemberRecord; movedAt: number }>();

  /** The hash as read from Redis. */
  update(hash: Record<string, string>, now: number): void {
    for (const [id, text] of Object.entries(hash)) {
      let record: MemberRecord;
      try {
        record = JSON.parse(text) as MemberRecord;
      } catch {
        continue; // not ours to judge; FORGET_MS removes it
      }
      const known = this.seen.get(id);
      if (known === undefined || known.record.beat !== record.beat) this.seen.set(id, { record, movedAt: now });
    }
    for (const id of this.seen.keys()) if (!(id in hash)) this.seen.delete(id);
  }

  /** Records that moved within LIVE_MS, this process's own among them. */
  live(now: number): MemberRecord[] {
    const out: MemberRecord[] = [];
    for (const { record, movedAt } of this.seen.values()) if (now - movedAt < LIVE_MS) out.push(record);
    return out;
  }

  /** Ids of records that have not moved for FORGET_MS: dead processes, to remove. */
  forgotten(now: number): string[] {
    return [...this.seen].filter(([, s]) => now - s.movedAt >= FORGET_MS).map(([id]) => id);
  }

  clear(): void {
    this.seen.clear();
  }
}

/** The config digests the live members run, with the instances running each; more than one is drift. */
export function digests(live: readonly MemberRecord[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of live) {
    const names = out.get(m.digest) ?? [];
    if (!names.includes(m.name)) names.push(m.name);
    out.set(m.digest, names);
  }
  return out;
}

/**
 * Rendezvous hashing: the prober preferred for a mirror among the live probing processes. Every process
 * computes the same answer from the same members, so mirrors spread over the instances without talk.
 */
export function preferredProber(mirror: string, probers: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const id of probers) {
    const score = fnv1a(`${mirror}\n${id}`);
    if (score > bestScore || (score === bestScore && id < (best ?? ''))) {
      best = id;
      bestScore = score;
    }
  }
  return best;
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Final avalanche, so ids that differ only at the end still spread.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
