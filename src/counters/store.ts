// Owns the counter_minutes, counter_hours and counter_days tables (migrations/001, 005): one row per (minute|hour|day, target)
// holding requests and bytes. Writes add to a row, never replace it, so several writers (workers, a
// restarted process within the same minute) sum correctly.
import { statement, type Db } from '../db/open.js';
import type { MinuteTally } from './counters.js';

export interface Retention {
  readonly minuteRetentionHours: number;
  readonly hourRetentionDays: number;
}

export interface TargetStats {
  readonly target: string;
  readonly requests: number;
  readonly bytes: number;
}

export class CounterStore {
  // Statements are looked up per use (a Map lookup), not held: the connection behind `db` can be replaced (DbFile).
  constructor(private readonly db: Db) {}

  private get addMinute() {
    return statement(this.db, `INSERT INTO counter_minutes (minute, target, requests, bytes) VALUES (?, ?, ?, ?)
      ON CONFLICT(minute, target) DO UPDATE SET requests = requests + excluded.requests, bytes = bytes + excluded.bytes`);
  }

  private get addDay() {
    return statement(this.db, `INSERT INTO counter_days (day, target, requests, bytes) VALUES (?, ?, ?, ?)
      ON CONFLICT(day, target) DO UPDATE SET requests = requests + excluded.requests, bytes = bytes + excluded.bytes`);
  }

  private get addHour() {
    return statement(this.db, `INSERT INTO counter_hours (hour, target, requests, bytes) VALUES (?, ?, ?, ?)
      ON CONFLICT(hour, target) DO UPDATE SET requests = requests + excluded.requests, bytes = bytes + excluded.bytes`);
  }

  /** Writes the tallies in one transaction. */
  write(tallies: readonly MinuteTally[]): void {
    if (tallies.length === 0) return;
    this.db.transaction(() => {
      for (const t of tallies) {
        this.addMinute.run(t.minute, t.target, t.requests, t.bytes);
        this.addHour.run(Math.floor(t.minute / 60), t.target, t.requests, t.bytes);
        this.addDay.run(Math.floor(t.minute / 1440), t.target, t.requests, t.bytes);
      }
    })();
  }

  /** Deletes rows past their retention; returns how many went. */
  prune(retention: Retention, nowMs: number): number {
    const minuteCut = Math.floor(nowMs / 60_000) - retention.minuteRetentionHours * 60;
    const hourCut = Math.floor(nowMs / 3_600_000) - retention.hourRetentionDays * 24;
    return statement(this.db, 'DELETE FROM counter_minutes WHERE minute < ?').run(minuteCut).changes
      + statement(this.db, 'DELETE FROM counter_hours WHERE hour < ?').run(hourCut).changes
      + statement(this.db, 'DELETE FROM counter_days WHERE day < ?').run(Math.floor(hourCut / 24)).changes;
  }

  /**
   * Totals per target since `sinceMs`. Minute rows answer while they cover the span; beyond the minute
   * retention the hourly roll-ups do (whole hours, so the span may start up to an hour earlier).
   */
  totalsSince(sinceMs: number, nowMs: number, retention: Retention): TargetStats[] {
    const useMinutes = nowMs - sinceMs <= retention.minuteRetentionHours * 3_600_000;
    const sql = useMinutes
      ? 'SELECT target, SUM(requests) AS requests, SUM(bytes) AS bytes FROM counter_minutes WHERE minute >= ? GROUP BY target'
      : 'SELECT target, SUM(requests) AS requests, SUM(bytes) AS bytes FROM counter_hours WHERE hour >= ? GROUP BY target';
    const from = useMinutes ? Math.floor(sinceMs / 60_000) : Math.floor(sinceMs / 3_600_000);
    return statement(this.db, sql).all(from) as TargetStats[];
  }

  /**
   * Adds every count of `from` to `to` (the database file was deleted under us: the old connection still
   * reads it, and what it holds would otherwise be lost with it): the counters and the download statistics.
   */
  static carry(from: Db, to: Db): number {
    let rows = 0;
    to.transaction(() => {
      for (const [table, key, name, a, b] of CARRIED) {
        const add = statement(to, `INSERT INTO ${table} (${key}, ${name}, ${a}, ${b}) VALUES (?, ?, ?, ?)
          ON CONFLICT(${key}, ${name}) DO UPDATE SET ${a} = ${a} + excluded.${a}, ${b} = ${b} + excluded.${b}`);
        for (const row of statement(from, `SELECT ${key}, ${name}, ${a}, ${b} FROM ${table} -- carry`).raw().all() as [number, string, number, number][]) {
          add.run(...row);
          rows += 1;
        }
      }
    })();
    return rows;
  }
}

/** Additive tables: [table, time key, name, count, bytes]. */
const CARRIED = [
  ['counter_minutes', 'minute', 'target', 'requests', 'bytes'],
  ['counter_hours', 'hour', 'target', 'requests', 'bytes'],
  ['counter_days', 'day', 'target', 'requests', 'bytes'],
  ['file_hours', 'hour', 'path', 'downloads', 'bytes'],
  ['file_days', 'day', 'path', 'downloads', 'bytes'],
  ['country_days', 'day', 'country', 'downloads', 'bytes'],
] as const;
