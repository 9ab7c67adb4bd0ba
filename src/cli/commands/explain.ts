import type { Command } from '../io.js';
import { parseFlags } from '../args.js';
import { resolveSettings } from '../../settings.js';
import { loadConfigOrThrow } from '../../config/load.js';
import { openForReading } from '../read-db.js';
import { Catalog } from '../../catalog/catalog.js';
import { normalizeRequestPath } from '../../catalog/request-path.js';
import { Locality } from '../../runtime/locality.js';
import { selectionInput } from '../../runtime/selection-input.js';
import { explainAnswer } from '../../selection/explain.js';
import { normalizeIp } from '../../http/client-address.js';
import { parseAvoid } from '../../routes/download.js';
import { silentLog } from '../../log.js';
import { volatileMatcher } from '../../catalog/volatile.js';
import { errors } from '../../errors.js';
import { formatBytes, table } from '../format.js';
import { MirrorStates } from '../../probing/mirror-states.js';
import { ProbeStore } from '../../probing/store.js';
import { evidenceRows } from '../../probing/evidence-report.js';

export const explain: Command = {
  name: 'explain',
  summary: 'show which mirror a client gets for a path, and why',
  help: `Usage: mirrorgate explain PATH [--ip ADDR] [--https] [--avoid a,b] [--json] [--config FILE] [--db FILE]

Runs the selection a request for PATH from ADDR would get (default: an address with no location) and
prints the ranked candidates with tier, distance, weight and share, then the excluded mirrors with their
reasons. The catalog is read from the database (an existing one: PATH must have been scanned), and so
is what the server's prober stored there: health, sync stamps and this file's evidence. When the
database holds no probe results yet, it says so and judges by the config alone. Load is not known
offline; the running server answers with it too at GET /_mirrorgate/explain?path=PATH&ip=ADDR.
A file smaller than smallFileBytes is served directly: no mirror is chosen for it.
`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, {
      ip: { type: 'string' }, https: { type: 'boolean' }, avoid: { type: 'string' }, json: { type: 'boolean' },
    }, 1);
    const settings = resolveSettings(values, io.env);
    const [rawPath] = positionals;
    if (rawPath === undefined) throw new errors.MG_ERR_CLI_USAGE('PATH is required (see --help)');
    const target = normalizeRequestPath(rawPath.startsWith('/') ? rawPath : `/${rawPath}`);
    if (!target.ok) throw new errors.MG_ERR_CLI_USAGE(`PATH "${rawPath}" is not acceptable: ${target.reason}`);
    const ip = values.ip === undefined ? '' : normalizeIp(values.ip);
    if (values.ip !== undefined && ip === '') throw new errors.MG_ERR_CLI_USAGE(`--ip: "${values.ip}" is not an IP address`);

    const config = await loadConfigOrThrow(settings.config);
    const db = openForReading(settings.db, io);
    const catalog = new Catalog(db);
    // What the server's prober stored: health, sync stamps and this file's evidence, judged by the same rules.
    const states = new MirrorStates(() => config, Date.now, () => undefined);
    let probed = 0;
    let file;
    try {
      catalog.load();
      file = catalog.lookup(target.path);
      const store = new ProbeStore(db);
      for (const row of store.healthRows()) {
        probed += 1;
        const state = states.get(row.mirror);
        state.health = { ...state.health, state: row.state, reason: row.reason, since: row.since, checkedAt: row.checked_at };
        state.syncStamp = row.sync_stamp ?? undefined;
      }
      for (const { mirror, evidence } of store.evidenceFor(target.path)) states.get(mirror).evidence.set(target.path, evidence);
    } finally {
      db.close();
    }
    if (file === undefined) {
      io.stderr(`${target.path}: not in the catalog (run mirrorgate scan?); mirrorgate answers 404\n`);
      return 1;
    }
    const locality = new Locality(silentLog);
    locality.configure(config);
    await locality.refresh();
    const client = { address: ip, family: ip === '' ? 0 : ip.includes(':') ? 6 : 4, https: values.https === true } as const;
    const location = locality.locate(ip);
    const isVolatile = volatileMatcher(config.volatile);
    const context = { config, locality, states, roundRobin: new Map(), now: Date.now(), isVolatileFile: (f: { path: string }) => isVolatile(f.path) };
    const small = file.size < config.smallFileBytes;
    const probeState = !config.probe.enabled || probed > 0;
    const result = explainAnswer(selectionInput(context, client, file, parseAvoid(values.avoid), Math.random), small);
    const evidence = evidenceRows(config.mirrors, file, (name) => states.get(name));
    if (values.json) {
      io.stdout(`${JSON.stringify({ path: file.path, size: file.size, client: { ...client, location }, smallFile: small, probeState, ...result, evidence }, null, 2)}\n`);
      return 0;
    }
    const where = [location.country, location.continent].filter(Boolean).join(', ') || 'no location';
    const coords = location.latitude === undefined ? '' : `, ${location.latitude},${location.longitude}`;
    const asn = location.asn === undefined ? '' : `, AS${location.asn}`;
    io.stdout(`${file.path} (${formatBytes(file.size)}) for ${ip || 'a client with no address'} (${where}${coords}${asn})${values.https ? ' over https' : ''}\n`);
    if (!probeState) io.stdout('no probe results in this database yet (the server has not probed): judged by the config alone\n');
    if (small) io.stdout(`smaller than smallFileBytes (${config.smallFileBytes}): served directly by mirrorgate, no mirror is chosen\n\n`);
    else {
      io.stdout(result.chosen === null ? 'chosen: none; the file is served from the repository or fallbackUrl\n\n'
        : `chosen: ${result.chosen} (tier ${result.tier})\n\n`);
    }
    const listed = result.mirrors.filter((m) => m.tier !== null);
    listed.sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity));
    io.stdout(table(['rank', 'mirror', 'tier', 'distance', 'weight', 'share', 'status'], listed.map((m) => [
      m.rank === null ? '-' : String(m.rank), m.name, m.tier ?? '-', m.distanceKm === null ? '-' : `${m.distanceKm} km`,
      String(m.weight), m.rank === null ? '-' : `${(m.share * 100).toFixed(1)}%`, m.status,
    ])));
    const excluded = result.mirrors.filter((m) => m.tier === null || !['chosen', 'candidate', 'wider-tier'].includes(m.status));
    if (excluded.length > 0) io.stdout(`\nexcluded:\n${excluded.map((m) => `  ${m.name}: ${m.status}`).join('\n')}\n`);
    if (config.probe.enabled) {
      io.stdout(`\nevidence (what the prober found about each mirror's copy):\n${table(['mirror', 'copy', 'method', 'checked', 'detail'], evidence.map((e) => [
        e.mirror, e.evidence === 'none' && e.vouchedBySyncStamp ? 'sync stamp' : e.evidence, e.method ?? '-', e.checkedAt ?? '-', e.detail,
      ]))}`);
    }
    return 0;
  },
};
