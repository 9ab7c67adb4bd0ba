// Owns the file_hours, file_days and country_days tables (migrations/005): downloads and bytes per file
// and per client country. Like the counters, writes add to a row and never replace it.
import { statement, type Db } from '../db/open.js';
import type { HourTally } from './downloads.js';
import type { Retention } from './store.js';

export interface KeyStats {
  readonly key: string;
  readonly downloads: number;
  readonly bytes: number;
}

export interface StatsQuery {
  readonly sinceMs: number;
  readonly nowMs: number;
  /** At most this many rows, the most downloaded first. */
  readonly limit: number;
  /** Only paths that start with this. */
  readonly prefix?: string;
}

const upsert = (table: string, key: string, name: string) => `INSERT INTO ${table} (${key}, ${name}, downloads, bytes) VALUES (?, ?, ?, ?)
  ON CONFLICT(${key}, ${name}) DO UPDATE SET downloads = downloads + excluded.downloads, bytes = bytes + excluded.bytes`;

export class DownloadStore {
  constructor(private readonly db: Db) {}

  /** Writes both kinds in one transaction. */
  write(files: readonly HourTally[], countries: readonly HourTally[]): void {
    if (files.length === 0 && countries.length === 0) return;
    const fileHour = statement(this.db, upsert('file_hours', 'hour', 'path'));
    const fileDay = statement(this.db, upsert('file_days', 'day', 'path'));
    const countryDay = statement(this.db, upsert('country_days', 'day', 'country'));
    this.db.transaction(() => {
      for (const t of files) {
        fileHour.run(t.hour, t.key, t.downloads, t.bytes);
        fileDay.run(Math.floor(t.hour / 24), t.key, t.downloads, t.bytes);
      }
      for (const t of countries) countryDay.run(Math.floor(t.hour / 24), t.key, t.downloads, t.bytes);
    })();
  }

  prune(retention: Retention, nowMs: number): number {
    const hourCut = Math.floor(nowMs / 3_600_000) - retention.minuteRetentionHours;
    const dayCut = Math.floor(nowMs / 86_400_000) - retention.hourRetentionDays;
    return statement(this.db, 'DELETE FROM file_hours WHERE hour < ?').run(hourCut).changes
      + statement(this.db, 'DELETE FROM file_days WHERE day < ?').run(dayCut).changes
      + statement(this.db, 'DELETE FROM country_days WHERE day < ?').run(dayCut).changes;
  }

  /**
   * Downloads per file since `sinceMs`: from the hourly rows while they cover the span (whole hours),
   * else from the daily ones (whole UTC days, so the span may start up to a day earlier).
   */
  files(query: StatsQuery, retention: Retention): KeyStats[] {
    const hourly = query.nowMs - query.sinceMs <= retention.minuteRetentionHours * 3_600_000;
    const [table, key, from] = hourly
      ? ['file_hours', 'hour', Math.floor(query.sinceMs / 3_600_000)]
      : ['file_days', 'day', Math.floor(query.sinceMs / 86_400_000)];
    const prefix = query.prefix ?? '';
    const sql = `SELECT path AS key, SUM(downloads) AS downloads, SUM(bytes) AS bytes FROM ${table}
      WHERE ${key} >= ? AND substr(path, 1, ?) = ? GROUP BY path ORDER BY downloads DESC, bytes DESC, path LIMIT ?`;
    return statement(this.db, sql).all(from, prefix.length, prefix, query.limit) as KeyStats[];
  }

  /** Downloads per client country since the UTC day of `sinceMs`. */
  countries(query: StatsQuery): KeyStats[] {
    const sql = `SELECT country AS key, SUM(downloads) AS downloads, SUM(bytes) AS bytes FROM country_days
      WHERE day >= ? GROUP BY country ORDER BY downloads DESC, bytes DESC, country LIMIT ?`;
    return statement(this.db, sql).all(Math.floor(query.sinceMs / 86_400_000), query.limit) as KeyStats[];
  }
}
