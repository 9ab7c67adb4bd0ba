// Per-file freshness checks waiting to run: deduplicated (one pending check per mirror and path),
// bounded (beyond `capacity` new asks are dropped; the next request asks again), and with a short
// cool-down so a mirror that does not answer is not asked about the same copy of a file on every
// request (a rebuilt file, with another ctime, is asked about at once).

const COOL_DOWN_MS = 10_000;

export class CheckQueue {
  private readonly pending = new Set<string>();
  private readonly order: string[] = [];
  private recent = new Map<string, { at: number; stamp: number }>();
  private readonly versions = new Map<string, number>();

  constructor(private readonly capacity: () => number, private readonly now: () => number) {}

  add(mirror: string, path: string, stamp: number): void {
    const key = `${mirror}\n${path}`;
    if (this.pending.has(key) || this.pending.size >= this.capacity()) return;
    const tried = this.recent.get(key);
    if (tried !== undefined && tried.stamp === stamp && this.now() - tried.at < COOL_DOWN_MS) return;
    this.pending.add(key);
    this.order.push(key);
    this.versions.set(key, stamp);
  }

  take(): { mirror: string; path: string } | undefined {
    const key = this.order.shift();
    if (key === undefined) return undefined;
    this.pending.delete(key);
    if (this.recent.size > 100_000) this.recent = new Map();
    this.recent.set(key, { at: this.now(), stamp: this.versions.get(key) ?? 0 });
    this.versions.delete(key);
    const cut = key.indexOf('\n');
    return { mirror: key.slice(0, cut), path: key.slice(cut + 1) };
  }

  get size(): number {
    return this.order.length;
  }
}
