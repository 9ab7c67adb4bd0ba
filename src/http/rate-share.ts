// One rate limit for the whole server under --workers N. Each worker counts its own requests and, every
// SHARE_INTERVAL_MS, sends the primary what it counted since; the primary adds them up per client and
// tells each worker how many requests the *other* workers admitted in the client's window. A worker
// then limits on its own count plus that number. Nothing waits on this exchange: the redirect path
// reads a Map. The tolerance: a client may get `max` plus what the other workers admit for it in one
// interval before they hear of each other (at most about rate × 10 ms, plus an IPC round trip).

/** How often a worker reports its counts. */
export const SHARE_INTERVAL_MS = 10;
/** Clients remembered at once by either side; past it the oldest are dropped, never everyone. */
export const MAX_SHARED_CLIENTS = 1_000_000;

/** [client key, requests] */
export type Deltas = [string, number][];
/** [client key, requests admitted by the other workers, ms their window has left] */
export type OthersCounts = [string, number, number][];

/** The worker's side: what it tells the primary and what it heard back. */
export class SharedCounts {
  private pending = new Map<string, number>();
  private others = new Map<string, { count: number; until: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly send: (deltas: Deltas) => void, private readonly now: () => number = Date.now) {}

  /** One request of `key` admitted (or refused) here. */
  hit(key: string): void {
    this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), SHARE_INTERVAL_MS);
      this.timer.unref();
    }
  }

  /** Requests of `key` the other workers admitted in its current window. */
  othersOf(key: string, at: number): number {
    const other = this.others.get(key);
    if (other === undefined) return 0;
    if (at < other.until) return other.count;
    this.others.delete(key);
    return 0;
  }

  receive(counts: OthersCounts): void {
    const at = this.now();
    for (const [key, count, ttl] of counts) {
      if (!this.others.has(key) && this.others.size >= MAX_SHARED_CLIENTS) dropOldest(this.others);
      this.others.set(key, { count, until: at + ttl });
    }
  }

  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const deltas: Deltas = [...this.pending];
    this.pending = new Map();
    this.send(deltas);
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

interface Tally {
  start: number;
  total: number;
  byWorker: Map<number, number>;
}

/** The primary's side: every worker's counts, per client and window. */
export class RateAggregator {
  private tallies = new Map<string, Tally>();

  constructor(private readonly windowMs: () => number, private readonly now: () => number = Date.now) {}

  /** Adds a worker's report; returns, per worker, what the others admitted for each client it names. */
  add(worker: number, deltas: Deltas, workers: readonly number[]): Map<number, OthersCounts> {
    const at = this.now();
    const length = this.windowMs();
    const out = new Map<number, OthersCounts>(workers.map((w) => [w, []]));
    for (const [key, n] of deltas) {
      let tally = this.tallies.get(key);
      if (tally === undefined || at - tally.start >= length) {
        if (tally === undefined && this.tallies.size >= MAX_SHARED_CLIENTS) dropOldest(this.tallies);
        tally = { start: at, total: 0, byWorker: new Map() };
        this.tallies.set(key, tally);
      }
      tally.total += n;
      tally.byWorker.set(worker, (tally.byWorker.get(worker) ?? 0) + n);
      const ttl = tally.start + length - at;
      for (const w of workers) out.get(w)?.push([key, tally.total - (tally.byWorker.get(w) ?? 0), ttl]);
    }
    return out;
  }

  get size(): number {
    return this.tallies.size;
  }
}

/** Drops the first-inserted 1% (at least one) of a Map: the clients seen longest ago. */
export function dropOldest(map: Map<string, unknown>): void {
  let n = Math.max(1, Math.floor(map.size / 100));
  for (const key of map.keys()) {
    if (n-- <= 0) break;
    map.delete(key);
  }
}
