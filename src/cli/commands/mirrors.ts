import type { Command } from '../io.js';
import { parseFlags } from '../args.js';
import { resolveSettings } from '../../settings.js';
import { loadConfigOrThrow } from '../../config/load.js';
import { openForReading } from '../read-db.js';
import { CounterStore } from '../../counters/store.js';
import { ProbeStore, type HealthRow } from '../../probing/store.js';
import { formatBytes, table } from '../format.js';

export const mirrors: Command = {
  name: 'mirrors',
  summary: 'list the mirrors with their state and last hour\'s traffic',
  help: `Usage: mirrorgate mirrors [--json] [--config FILE] [--db FILE]

One row per configured mirror: name, state (up, down, unknown, disabled) with the reason and since when,
weight, location, effective capacity, requests and bytes in the last hour, URL. The state is what the
running server's prober last stored; --events N also lists the last N up/down transitions.
`,
  async run(args, io) {
    const { values } = parseFlags(args, { json: { type: 'boolean' }, events: { type: 'string' } });
    const settings = resolveSettings(values, io.env);
    const config = await loadConfigOrThrow(settings.config);
    const db = openForReading(settings.db, io);
    const now = Date.now();
    let traffic;
    let health: Map<string, HealthRow>;
    let events;
    try {
      traffic = new Map(new CounterStore(db).totalsSince(now - 3_600_000, now, config.counters).map((r) => [r.target, r]));
      const probes = new ProbeStore(db);
      health = new Map(probes.healthRows().map((r) => [r.mirror, r]));
      events = values.events === undefined ? [] : probes.recentEvents(Math.max(0, Number(values.events) || 0));
    } finally {
      db.close();
    }
    const rows = config.mirrors.map((m) => ({
      name: m.name,
      state: !m.enabled ? 'disabled' : !config.probe.enabled ? 'unprobed' : health.get(m.name)?.state ?? 'unknown',
      reason: m.enabled && config.probe.enabled ? health.get(m.name)?.reason ?? 'not probed yet' : '',
      since: health.get(m.name)?.since === undefined ? null : new Date(health.get(m.name)?.since ?? 0).toISOString(),
      effectiveMbps: health.get(m.name)?.capacity_mbps ?? m.bandwidthMbps,
      weight: m.weight,
      country: m.country ?? null,
      continent: m.continent ?? null,
      requests1h: traffic.get(m.name)?.requests ?? 0,
      bytes1h: traffic.get(m.name)?.bytes ?? 0,
      url: m.url,
    }));
    if (values.json) {
      io.stdout(`${JSON.stringify(values.events === undefined ? rows : { mirrors: rows, events }, null, 2)}\n`);
      return 0;
    }
    io.stdout(table(['name', 'state', 'reason', 'since', 'weight', 'where', 'Mbit/s', 'req (1h)', 'bytes (1h)', 'url'], rows.map((r) => [
      r.name, r.state, r.reason || '-', r.since?.slice(0, 19).replace('T', ' ') ?? '-', String(r.weight),
      [r.country, r.continent].filter(Boolean).join('/') || '-', String(Math.round(r.effectiveMbps)),
      String(r.requests1h), formatBytes(r.bytes1h), r.url,
    ])));
    if (events.length > 0) {
      io.stdout(`\nrecent transitions:\n${events.map((e) => `  ${new Date(e.at).toISOString()}  ${e.mirror}: ${e.from_state} → ${e.to_state} (${e.reason})`).join('\n')}\n`);
    }
    return 0;
  },
};
