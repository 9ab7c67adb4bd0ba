// What the operator's dashboard shows, gathered from the runtime (mirror state, as this process knows
// it) and the database (traffic, downloads, state changes: what every process flushed there). The same
// object is the page's and /_mirrorgate/dashboard.json's.
import { statement, type Db } from '../db/open.js';
import { DownloadStore, type KeyStats } from '../counters/download-store.js';
import { FALLBACK, LOCAL } from '../counters/counters.js';
import { ProbeStore, type EventRow } from '../probing/store.js';
import type { Runtime } from '../runtime/runtime.js';
import type { ClusterStatus } from '../sharing/link.js';

/** Mirrors drawn as their own series in a chart; the rest are added up as OTHERS. */
const CHART_SERIES = 8;
export const OTHERS = '(others)';

export interface Traffic {
  readonly requests: number;
  readonly bytes: number;
}

export interface MirrorRow {
  readonly name: string;
  readonly country: string | null;
  readonly enabled: boolean;
  readonly state: string;
  readonly reason: string;
  readonly since: number | null;
  readonly latencyMs: number | null;
  /** Per-file evidence this process holds: copies found current, stale, missing. */
  readonly fresh: number;
  readonly stale: number;
  readonly missing: number;
  readonly syncStamp: number | null;
  readonly declaredMbps: number;
  readonly effectiveMbps: number;
  readonly utilisation: number;
  readonly lastHour: Traffic;
  readonly lastDay: Traffic;
}

export interface Chart {
  /** Start of each bucket (ms); the last one is the current hour or day. */
  readonly buckets: number[];
  readonly bucketMs: number;
  readonly series: { readonly target: string; readonly requests: number[]; readonly bytes: number[] }[];
}

export interface DashboardData {
  readonly generatedAt: number;
  readonly role: string;
  readonly files: number;
  readonly mirrors: MirrorRow[];
  readonly hours: Chart;
  readonly days: Chart;
  readonly countries: KeyStats[];
  readonly topFilesDay: KeyStats[];
  readonly topFilesMonth: KeyStats[];
  readonly events: EventRow[];
  /** With cluster.redis: the instances sharing it, as this process sees them. */
  readonly cluster: ClusterStatus | null;
}

const HOUR = 3_600_000;
const DAY = 86_400_000;

export function dashboardData(runtime: Runtime, nowMs: number): DashboardData {
  const db = runtime.db;
  const config = runtime.config;
  const hour = Math.floor(nowMs / HOUR);
  const lastHour = traffic(db, 'SELECT target, SUM(requests) AS requests, SUM(bytes) AS bytes FROM counter_minutes WHERE minute >= ? GROUP BY target',
    Math.floor(nowMs / 60_000) - 59);
  const lastDay = traffic(db, 'SELECT target, SUM(requests) AS requests, SUM(bytes) AS bytes FROM counter_hours WHERE hour >= ? GROUP BY target', hour - 23);
  const none = { requests: 0, bytes: 0 };
  const mirrors: MirrorRow[] = config.mirrors.map((m) => {
    const s = runtime.states.get(m.name);
    const { fresh, stale, missing } = s.evidence.counts;
    return {
      name: m.name, country: m.country ?? null, enabled: m.enabled,
      state: !m.enabled ? 'disabled' : config.probe.enabled ? s.health.state : 'unprobed',
      reason: s.health.reason, since: config.probe.enabled ? s.health.since : null, latencyMs: s.health.latencyMs ?? null,
      fresh, stale, missing, syncStamp: s.syncStamp ?? null,
      declaredMbps: m.bandwidthMbps, effectiveMbps: runtime.states.effectiveMbps(m), utilisation: runtime.states.utilisation(m),
      lastHour: lastHour.get(m.name) ?? none, lastDay: lastDay.get(m.name) ?? none,
    };
  });
  const downloads = new DownloadStore(db);
  const month = { sinceMs: nowMs - 30 * DAY, nowMs, limit: 20 };
  return {
    generatedAt: nowMs,
    role: runtime.role,
    files: runtime.catalog.size,
    mirrors,
    hours: chart(db, 'counter_hours', hour - 47, 48, HOUR),
    days: chart(db, 'counter_days', Math.floor(nowMs / DAY) - 29, 30, DAY),
    countries: downloads.countries({ ...month, limit: 25 }),
    topFilesDay: downloads.files({ sinceMs: nowMs - 23 * HOUR, nowMs, limit: 20 }, config.counters),
    topFilesMonth: downloads.files(month, config.counters),
    events: new ProbeStore(db).recentEvents(20),
    cluster: runtime.sharing?.status() ?? null,
  };
}

function traffic(db: Db, sql: string, from: number): Map<string, Traffic> {
  const rows = statement(db, sql).all(from) as ({ target: string } & Traffic)[];
  return new Map(rows.map((r) => [r.target, { requests: r.requests, bytes: r.bytes }]));
}

/**
 * Requests and bytes per target and bucket, from the hourly or the daily roll-ups. The mirrors with the
 * most traffic in the span get a series each; _local and _fallback always do; the rest are added up as
 * OTHERS, in SQL, so that a few hundred rows reach JavaScript whatever the number of mirrors.
 */
function chart(db: Db, table: 'counter_hours' | 'counter_days', first: number, count: number, bucketMs: number): Chart {
  const key = table === 'counter_hours' ? 'hour' : 'day';
  const top = statement(db, `SELECT target FROM ${table} WHERE ${key} >= ? AND target NOT IN (?, ?)
    GROUP BY target ORDER BY SUM(bytes) + SUM(requests) DESC, target LIMIT ? -- pluck`).pluck().all(first, LOCAL, FALLBACK, CHART_SERIES + 1) as string[];
  const shown = [...top.slice(0, CHART_SERIES), LOCAL, FALLBACK];
  if (top.length > CHART_SERIES) shown.push(OTHERS);
  const rows = statement(db, `SELECT ${key} AS b, CASE WHEN target IN (SELECT value FROM json_each(?)) THEN target ELSE ? END AS t,
    SUM(requests) AS requests, SUM(bytes) AS bytes FROM ${table} WHERE ${key} >= ? GROUP BY b, t`)
    .all(JSON.stringify(shown), OTHERS, first) as { b: number; t: string; requests: number; bytes: number }[];
  const series = shown.map((target) => ({ target, requests: new Array<number>(count).fill(0), bytes: new Array<number>(count).fill(0) }));
  const index = new Map(series.map((s) => [s.target, s]));
  for (const r of rows) {
    const i = r.b - first;
    const s = index.get(r.t);
    if (s === undefined || i < 0 || i >= count) continue;
    (s.requests[i] as number) += r.requests;
    (s.bytes[i] as number) += r.bytes;
  }
  return { buckets: Array.from({ length: count }, (_, i) => (first + i) * bucketMs), bucketMs, series };
}
