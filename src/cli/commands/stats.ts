import type { Command } from '../io.js';
import { parseFlags } from '../args.js';
import { resolveSettings } from '../../settings.js';
import { loadConfigFile, type Config } from '../../config/load.js';
import { openForReading } from '../read-db.js';
import { CounterStore, type TargetStats } from '../../counters/store.js';
import { DownloadStore, type KeyStats } from '../../counters/download-store.js';
import { errors } from '../../errors.js';
import { resolve } from 'node:path';
import { readClusterTotals } from '../../sharing/totals.js';
import { redisAddress } from '../../sharing/connect.js';
import { silentLog } from '../../log.js';
import { formatBytes, formatShare, parseDuration, table } from '../format.js';

const DEFAULT_RETENTION = { minuteRetentionHours: 48, hourRetentionDays: 400 };

export const stats: Command = {
  name: 'stats',
  summary: 'requests, bytes and share per mirror; downloads per file or country',
  help: `Usage: mirrorgate stats [--since 1h] [--files [--prefix P] | --countries | --cluster] [--top N] [--json] [--config FILE] [--db FILE]

Adds up what the server flushed to the database (every second): by default requests and bytes per
mirror, and what mirrorgate served itself (_local) or sent to fallbackUrl (_fallback), with each one's
share. Configured mirrors with no traffic are listed with zeros.
  --files       downloads and bytes per file (a download: a GET answered with a redirect or the file;
                HEADs and 304s are not downloads), most downloaded first; --prefix P keeps paths under P
  --countries   downloads and bytes per client country ("--": no location known)
  --top N       at most N rows (default 20 for --files and --countries, all mirrors otherwise)
  --since D     90s, 15m, 1h, 7d (default 1h). Mirror spans beyond the minute retention, and file spans
                beyond it, are answered from hourly and daily roll-ups; countries are kept per UTC day,
                so their span starts at midnight UTC of the day it begins in.
  --cluster     requests and bytes per mirror for every instance sharing cluster.redis, read from Redis
                (kept per hour: the span starts at the top of the hour it begins in); without it, this
                instance's own from its database
  --json        the same as JSON
`,
  async run(args, io) {
    const { values } = parseFlags(args, {
      since: { type: 'string' }, json: { type: 'boolean' }, files: { type: 'boolean' }, countries: { type: 'boolean' },
      top: { type: 'string' }, prefix: { type: 'string' }, cluster: { type: 'boolean' },
    });
    if (values.cluster === true && (values.files === true || values.countries === true)) {
      throw new errors.MG_ERR_CLI_USAGE('--cluster shows mirrors only: leave out --files and --countries');
    }
    if (values.files === true && values.countries === true) throw new errors.MG_ERR_CLI_USAGE('--files and --countries: choose one');
    if (values.prefix !== undefined && values.files !== true) throw new errors.MG_ERR_CLI_USAGE('--prefix goes with --files');
    const top = values.top === undefined ? undefined : Number(values.top);
    if (top !== undefined && (!Number.isInteger(top) || top < 1)) throw new errors.MG_ERR_CLI_USAGE(`--top: "${values.top}" is not a positive whole number`);
    const settings = resolveSettings(values, io.env);
    const spanMs = parseDuration(values.since ?? '1h', '--since');
    const config = await tryConfig(settings.config);
    const retention = config?.counters ?? DEFAULT_RETENTION;
    const now = Date.now();
    const span = { since: new Date(now - spanMs).toISOString(), until: new Date(now).toISOString() };
    if (values.cluster === true) {
      if (config?.cluster.redis === undefined) throw new errors.MG_ERR_CLUSTER_NONE(resolve(settings.config));
      io.stderr(`reading ${redisAddress(config.cluster)}\n`);
      const totals = await readClusterTotals(config.cluster, now - spanMs, now, silentLog);
      const rows = [...totals].map(([target, t]) => ({ target, ...t }));
      printTargets(io, rows, config, top, values.json === true, { ...span, since: new Date(Math.floor((now - spanMs) / 3_600_000) * 3_600_000).toISOString(), cluster: true });
      return 0;
    }
    const db = openForReading(settings.db, io);
    try {
      if (values.files === true || values.countries === true) {
        // Every row of the span (under --prefix), once: the shares and the total are of all of them,
        // the table shows the first --top.
        const query = { sinceMs: now - spanMs, nowMs: now, limit: -1, prefix: values.prefix };
        const store = new DownloadStore(db);
        const all = values.files === true ? store.files(query, retention) : store.countries(query);
        printDownloads(io, values.files === true ? 'path' : 'country', all.slice(0, top ?? 20), all, values.json === true, span);
        return 0;
      }
      const rows = new CounterStore(db).totalsSince(now - spanMs, now, retention);
      printTargets(io, rows, config, top, values.json === true, span);
      return 0;
    } finally {
      db.close();
    }
  },
};

function printTargets(io: Parameters<Command['run']>[1], rows: TargetStats[], config: Config | undefined, top: number | undefined, json: boolean, span: object): void {
  for (const m of config?.mirrors ?? []) {
    if (!rows.some((r) => r.target === m.name)) rows.push({ target: m.name, requests: 0, bytes: 0 });
  }
  rows.sort((a, b) => b.bytes - a.bytes || b.requests - a.requests || a.target.localeCompare(b.target));
  const requests = rows.reduce((s, r) => s + r.requests, 0);
  const bytes = rows.reduce((s, r) => s + r.bytes, 0);
  const shown = rows.slice(0, top ?? rows.length);
  if (json) {
    io.stdout(`${JSON.stringify({
      ...span, requests, bytes,
      targets: shown.map((r) => ({ ...r, requestShare: share(r.requests, requests), byteShare: share(r.bytes, bytes) })),
    }, null, 2)}\n`);
    return;
  }
  io.stdout(table(['target', 'requests', 'bytes', 'share (req)', 'share (bytes)'], [
    ...shown.map((r) => [r.target, String(r.requests), formatBytes(r.bytes), formatShare(r.requests, requests), formatShare(r.bytes, bytes)]),
    ['total', String(requests), formatBytes(bytes), formatShare(requests, requests), formatShare(bytes, bytes)],
  ]));
}

function printDownloads(io: Parameters<Command['run']>[1], name: 'path' | 'country', rows: KeyStats[], all: KeyStats[], json: boolean, span: object): void {
  const downloads = all.reduce((s, r) => s + r.downloads, 0);
  const bytes = all.reduce((s, r) => s + r.bytes, 0);
  if (json) {
    io.stdout(`${JSON.stringify({
      ...span, downloads, bytes,
      [name === 'path' ? 'files' : 'countries']: rows.map((r) => ({ [name]: r.key, downloads: r.downloads, bytes: r.bytes, share: share(r.downloads, downloads) })),
    }, null, 2)}\n`);
    return;
  }
  io.stdout(table([name, 'downloads', 'bytes', 'share'], [
    ...rows.map((r) => [r.key, String(r.downloads), formatBytes(r.bytes), formatShare(r.downloads, downloads)]),
    [`total (${all.length} ${name === 'path' ? 'files' : 'countries'})`, String(downloads), formatBytes(bytes), formatShare(downloads, downloads)],
  ]));
}

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
