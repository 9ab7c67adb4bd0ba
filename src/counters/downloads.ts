// Downloads and bytes per file and per client country, added up in memory on the redirect path and
// handed to the store in batches. A download touches one cell per key: a Map lookup and three
// increments. A cell is made once per key and hour, not per request, and is kept (zeroed) across
// flushes within the hour, so a busy file costs no allocation at all.

/** A country the locator could not name. */
export const NO_COUNTRY = '--';

export interface HourTally {
  readonly hour: number;
  readonly key: string;
  readonly downloads: number;
  readonly bytes: number;
}

interface Cell {
  readonly key: string;
  downloads: number;
  bytes: number;
  dirty: boolean;
}

/** Per-key tallies of one hour at a time; drain() takes what was added since the last drain. */
export class HourlyTallies {
  private hour = -1;
  private cells = new Map<string, Cell>();
  private dirty: Cell[] = [];
  private closed: HourTally[] = [];

  add(key: string, bytes: number, hour: number): void {
    if (hour !== this.hour) this.roll(hour);
    let cell = this.cells.get(key);
    if (cell === undefined) {
      cell = { key, downloads: 0, bytes: 0, dirty: false };
      this.cells.set(key, cell);
    }
    cell.downloads += 1;
    cell.bytes += bytes;
    if (!cell.dirty) {
      cell.dirty = true;
      this.dirty.push(cell);
    }
  }

  /** Everything added since the last drain, by hour; the caller writes it and calls restore() if that failed. */
  drain(): HourTally[] {
    this.close();
    const out = this.closed;
    this.closed = [];
    return out;
  }

  restore(tallies: readonly HourTally[]): void {
    this.closed = [...tallies, ...this.closed];
  }

  get pending(): number {
    return this.closed.length + this.dirty.length;
  }

  private close(): void {
    for (const cell of this.dirty) {
      this.closed.push({ hour: this.hour, key: cell.key, downloads: cell.downloads, bytes: cell.bytes });
      cell.downloads = 0;
      cell.bytes = 0;
      cell.dirty = false;
    }
    this.dirty.length = 0;
  }

  private roll(hour: number): void {
    this.close();
    this.cells = new Map(); // a new hour starts with no cells: keys nobody asks for any more are dropped
    this.hour = hour;
  }
}

/** What the download route counts: per file and per country. */
export class DownloadStats {
  readonly files = new HourlyTallies();
  readonly countries = new HourlyTallies();

  constructor(private readonly now: () => number = Date.now) {}

  add(path: string, country: string | undefined, bytes: number, nowMs = this.now()): void {
    const hour = Math.floor(nowMs / 3_600_000);
    this.files.add(path, bytes, hour);
    this.countries.add(country ?? NO_COUNTRY, bytes, hour);
  }

  get pending(): number {
    return this.files.pending + this.countries.pending;
  }
}
