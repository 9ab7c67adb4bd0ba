import type { Command } from '../io.js';
import { parseFlags } from '../args.js';
import { resolveSettings } from '../../settings.js';
import { loadConfigFile, type Config } from '../../config/load.js';
import { openForReading } from '../read-db.js';
import { CounterStore, type TargetStats } from '../../counters/store.js';
import { formatBytes, formatShare, parseDuration, table } from '../format.js';

const DEFAULT_RETENTION = { minuteRetentionHours: 48, hourRetentionDays: 400 };

export const stats: Command = {
  name: 'stats',
  summary: 'requests, bytes and share per mirror',
  help: `Usage: mirrorgate stats [--since 1h] [--json] [--config FILE] [--db FILE]

Adds up the counters flushed to the database (a running server flushes every second): requests and
bytes per mirror, and what mirrorgate served itself (_local) or sent to fallbackUrl (_fallback), with
each one's share. --since takes 90s, 15m, 1h, 7d (default 1h); spans beyond the minute retention are
answered from the hourly roll-ups. Configured mirrors with no traffic are listed with zeros.
`,
  async run(args, io) {
    const { values } = parseFlags(args, { since: { type: 'string' }, json: { type: 'boolean' } });
    const settings = resolveSettings(values, io.env);
    const spanMs = parseDuration(values.since ?? '1h', '--since');
    const config = await tryConfig(settings.config);
    const db = openForReading(settings.db, io);
    const now = Date.now();
    let rows: TargetStats[];
    try {
      rows = new CounterStore(db).totalsSince(now - spanMs, now, config?.counters ?? DEFAULT_RETENTION);
    } finally {
      db.close();
    }
    for (const m of config?.mirrors ?? []) {
      if (!rows.some((r) => r.target === m.name)) rows.push({ target: m.name, requests: 0, bytes: 0 });
    }
    rows.sort((a, b) => b.bytes - a.bytes || b.requests - a.requests || a.target.localeCompare(b.target));
    const requests = rows.reduce((s, r) => s + r.requests, 0);
    const bytes = rows.reduce((s, r) => s + r.bytes, 0);
    if (values.json) {
      io.stdout(`${JSON.stringify({
        since: new Date(now - spanMs).toISOString(),
        until: new Date(now).toISOString(),
        requests,
        bytes,
        targets: rows.map((r) => ({ ...r, requestShare: share(r.requests, requests), byteShare: share(r.bytes, bytes) })),
      }, null, 2)}\n`);
      return 0;
    }
    io.stdout(table(['target', 'requests', 'bytes', 'share (req)', 'share (bytes)'], [
      ...rows.map((r) => [r.target, String(r.requests), formatBytes(r.bytes), formatShare(r.requests, requests), formatShare(r.bytes, bytes)]),
      ['total', String(requests), formatBytes(bytes), formatShare(requests, requests), formatShare(bytes, bytes)],
    ]));
    return 0;
  },
};

function share(part: number, total: number): number {
  return total === 0 ? 0 : part / total;
}

/** The config only adds names and retention here; stats still work without one. */
async function tryConfig(file: string): Promise<Config | undefined> {
  try {
    const result = await loadConfigFile(file);
    return result.ok ? result.config : undefined;
  } catch {
    return undefined;
  }
}
