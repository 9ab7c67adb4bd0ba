// Per-target request and byte counters, added up in memory on the redirect path and handed to the store
// in batches. A request only touches a Map entry; SQLite is written by the flush timer, never inline.

export const LOCAL = '_local';
export const FALLBACK = '_fallback';

export interface Tally {
  requests: number;
  bytes: number;
}

export interface MinuteTally extends Tally {
  readonly minute: number;
  readonly target: string;
}

export class Counters {
  private minute = -1;
  private current = new Map<string, Tally>();
  private closed: MinuteTally[] = [];
  /** Since process start; what /_mirrorgate/metrics reports. */
  readonly totals = new Map<string, Tally>();

  constructor(private readonly now: () => number = Date.now) {}

  add(target: string, bytes: number, nowMs = this.now()): void {
    const minute = Math.floor(nowMs / 60_000);
    if (minute !== this.minute) this.rollMinute(minute);
    bump(this.current, target, bytes);
    bump(this.totals, target, bytes);
  }

  /** Takes everything counted so far; the caller writes it and calls restore() if that failed. */
  drain(): MinuteTally[] {
    this.rollMinute(this.minute);
    const out = this.closed;
    this.closed = [];
    return out;
  }

  /** Puts back tallies that could not be written, so the next flush retries them. */
  restore(tallies: readonly MinuteTally[]): void {
    this.closed.unshift(...tallies);
  }

  get pending(): number {
    return this.closed.length + this.current.size;
  }

  private rollMinute(minute: number): void {
    for (const [target, t] of this.current) this.closed.push({ minute: this.minute, target, requests: t.requests, bytes: t.bytes });
    this.current = new Map();
    this.minute = minute;
  }
}

function bump(map: Map<string, Tally>, target: string, bytes: number): void {
  const t = map.get(target);
  if (t === undefined) map.set(target, { requests: 1, bytes });
  else {
    t.requests += 1;
    t.bytes += bytes;
  }
}
