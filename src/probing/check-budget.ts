// What content checks may download from each mirror: at most `bytesPerHour` per clock hour (0 = no
// limit), so verifying copies never becomes a load of its own on a volunteer mirror. Also keeps what was
// spent, for metrics and the bench.

const HOUR_MS = 3_600_000;

export class CheckBudget {
  private readonly used = new Map<string, { hour: number; bytes: number }>();
  /** Bytes fetched by content checks since start, per mirror. */
  readonly spent = new Map<string, number>();
  /** Checks put off because the hour's budget was used up, per mirror. */
  readonly deferred = new Map<string, number>();

  constructor(private readonly bytesPerHour: () => number) {}

  /** Takes `bytes` from this hour's budget of `mirror`; false (and nothing taken) when they do not fit. */
  take(mirror: string, bytes: number, now: number): boolean {
    const limit = this.bytesPerHour();
    const hour = Math.floor(now / HOUR_MS);
    let entry = this.used.get(mirror);
    if (entry === undefined || entry.hour !== hour) {
      entry = { hour, bytes: 0 };
      this.used.set(mirror, entry);
    }
    if (limit > 0 && entry.bytes + bytes > limit) {
      this.deferred.set(mirror, (this.deferred.get(mirror) ?? 0) + 1);
      return false;
    }
    entry.bytes += bytes;
    this.spent.set(mirror, (this.spent.get(mirror) ?? 0) + bytes);
    return true;
  }
}
