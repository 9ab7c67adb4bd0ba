import type { Command } from '../io.js';
import { parseFlags } from '../args.js';
import { resolveSettings } from '../../settings.js';
import { loadConfigOrThrow } from '../../config/load.js';
import { openDb } from '../../db/open.js';
import { CounterStore } from '../../counters/store.js';
import { formatBytes, table } from '../format.js';

export const mirrors: Command = {
  name: 'mirrors',
  summary: 'list the mirrors with their state and last hour\'s traffic',
  help: `Usage: mirrorgate mirrors [--json] [--config FILE] [--db FILE]

One row per configured mirror: name, state, weight, location, requests and bytes in the last hour, URL.
`,
  async run(args, io) {
    const { values } = parseFlags(args, { json: { type: 'boolean' } });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    const settings = resolveSettings(values, io.env);
    const config = loadConfigOrThrow(settings.config);
    const { db } = openDb(settings.db);
    const now = Date.now();
    let traffic;
    try {
      traffic = new Map(new CounterStore(db).totalsSince(now - 3_600_000, now, config.counters).map((r) => [r.target, r]));
    } finally {
      db.close();
    }
    const rows = config.mirrors.map((m) => ({
      name: m.name,
      state: m.enabled ? 'enabled' : 'disabled',
      weight: m.weight,
      country: m.country ?? null,
      continent: m.continent ?? null,
      requests1h: traffic.get(m.name)?.requests ?? 0,
      bytes1h: traffic.get(m.name)?.bytes ?? 0,
      url: m.url,
    }));
    if (values.json) {
      io.stdout(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    io.stdout(table(['name', 'state', 'weight', 'where', 'req (1h)', 'bytes (1h)', 'url'], rows.map((r) => [
      r.name, r.state, String(r.weight), [r.country, r.continent].filter(Boolean).join('/') || '-',
      String(r.requests1h), formatBytes(r.bytes1h), r.url,
    ])));
    return 0;
  },
};
