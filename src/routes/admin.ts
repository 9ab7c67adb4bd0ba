// Operator endpoints under /_mirrorgate/ (the catalog never holds that name: it is not a download path).
// health for load balancers (public: only whether it is up; operators get the details), and for
// operators only (admin.allow networks or the bearer token): metrics in Prometheus text format,
// mirrors and explain as JSON.
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../runtime/runtime.js';
import { resolveClient, normalizeIp } from '../http/client-address.js';
import { clientOf } from '../http/client.js';
import { normalizeRequestPath } from '../catalog/request-path.js';
import { selectionInput } from '../runtime/selection-input.js';
import { evidenceRows } from '../probing/evidence-report.js';
import { explainAnswer } from '../selection/explain.js';
import { parseAvoid } from './download.js';
import { isOperator, operatorsOnly } from '../http/admin-access.js';

export const ADMIN_PREFIX = '/_mirrorgate';

export function adminRoutes(app: FastifyInstance, runtime: Runtime, token: string | undefined): void {
  const onRequest = operatorsOnly(() => runtime, token);
  app.get(`${ADMIN_PREFIX}/health`, async (request) => (!isOperator(request, runtime, token) ? { status: 'ok' } : {
    status: 'ok',
    files: runtime.catalog.size,
    mirrors: runtime.config.mirrors.length,
    enabled: runtime.config.mirrors.filter((m) => m.enabled).length,
    scanning: runtime.scanInProgress,
    geoip: runtime.locality.active,
    geoipLookupErrors: runtime.locality.lookupErrors,
    role: runtime.role,
    memoryRssBytes: process.memoryUsage.rss(),
    watch: runtime.watchReport === undefined ? null : { ...runtime.watchReport, directories: runtime.watcher?.directories ?? 0 },
    catalogWritesPending: runtime.catalog.pendingWrites,
    probePaused: runtime.prober.pausedBecause ?? null,
    dbReopens: runtime.dbReopens,
    connections: {
      max: app.connections.maxConnections, refusedPerClient: app.connections.refusedPerClient, refusedTotal: app.connections.refusedTotal,
    },
  }));

  app.get(`${ADMIN_PREFIX}/mirrors`, { onRequest }, async () => runtime.config.mirrors.map((m) => {
    const s = runtime.states.get(m.name);
    return {
      name: m.name,
      url: m.url,
      weight: m.weight,
      bandwidthMbps: m.bandwidthMbps,
      country: m.country ?? null,
      continent: m.continent ?? null,
      enabled: m.enabled,
      state: !m.enabled ? 'disabled' : runtime.config.probe.enabled ? s.health.state : 'unprobed',
      reason: s.health.reason,
      since: new Date(s.health.since).toISOString(),
      latencyMs: s.health.latencyMs ?? null,
      effectiveMbps: runtime.states.effectiveMbps(m),
      utilisation: runtime.states.utilisation(m),
      syncStamp: s.syncStamp === undefined ? null : new Date(s.syncStamp).toISOString(),
      filesVerified: s.evidence.size,
      checkBytes: runtime.prober.budget.spent.get(m.name) ?? 0,
      requests: runtime.counters.totals.get(m.name)?.requests ?? 0,
      bytes: runtime.counters.totals.get(m.name)?.bytes ?? 0,
    };
  }));

  // What would this client (or ?ip=) get for ?path=, and why. Answers questions; redirects nobody.
  app.get(`${ADMIN_PREFIX}/explain`, { onRequest }, async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const target = normalizeRequestPath(`/${typeof query.path === 'string' ? query.path : ''}`);
    if (!target.ok) return reply.code(400).send({ error: `bad path: ${target.reason}` });
    const file = runtime.catalog.lookup(target.path);
    if (file === undefined) return reply.code(404).send({ error: 'not in the catalog', path: target.path });
    let client = clientOf(request, runtime.trusted);
    if (typeof query.ip === 'string') {
      const ip = normalizeIp(query.ip);
      if (ip === '') return reply.code(400).send({ error: `"${query.ip}" is not an IP address` });
      client = resolveClient(ip, {}, runtime.trusted, query.https === 'true' || query.https === '1');
    }
    const location = runtime.locality.locate(client.address);
    const input = selectionInput(runtime, client, file, parseAvoid(query.avoid), Math.random);
    const smallFile = file.size < runtime.config.smallFileBytes;
    return {
      path: file.path, size: file.size, client: { ...client, location }, smallFile,
      ...explainAnswer(input, smallFile),
      evidence: evidenceRows(runtime.config.mirrors, file, (name) => runtime.states.get(name)),
    };
  });

  app.get(`${ADMIN_PREFIX}/metrics`, { onRequest }, async (_request, reply) => {
    reply.type('text/plain; version=0.0.4');
    return renderMetrics(runtime, app);
  });
}

function renderMetrics(runtime: Runtime, app: FastifyInstance): string {
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  const totals = [...runtime.counters.totals];
  const label = (target: string) => `{target="${target.replace(/["\\]/g, '\\$&')}"}`;
  metric('mirrorgate_requests_total', 'counter', 'Downloads answered since start, by target (mirror, _local, _fallback).',
    totals.map(([t, v]) => [label(t), v.requests]));
  metric('mirrorgate_bytes_total', 'counter', 'Bytes handed off since start, by target.',
    totals.map(([t, v]) => [label(t), v.bytes]));
  metric('mirrorgate_catalog_files', 'gauge', 'Files in the catalog.', [['', runtime.catalog.size]]);
  metric('mirrorgate_mirror_enabled', 'gauge', '1 when the mirror is enabled in the config.',
    runtime.config.mirrors.map((m) => [`{mirror="${m.name}"}`, m.enabled ? 1 : 0]));
  const mirrors = runtime.config.mirrors;
  metric('mirrorgate_mirror_up', 'gauge', '1 when the mirror is enabled and passes its health probes (or probing is off).',
    mirrors.map((m) => [`{mirror="${m.name}"}`, m.enabled && runtime.states.get(m.name).health.state !== 'down' ? 1 : 0]));
  metric('mirrorgate_mirror_effective_mbps', 'gauge', 'Declared bandwidth scaled by what the probes measure.',
    mirrors.map((m) => [`{mirror="${m.name}"}`, runtime.states.effectiveMbps(m)]));
  metric('mirrorgate_mirror_utilisation', 'gauge', 'Bytes sent over the capacity window / what the effective capacity moves in it.',
    mirrors.map((m) => [`{mirror="${m.name}"}`, runtime.states.utilisation(m)]));
  metric('mirrorgate_freshness_checks_pending', 'gauge', 'Per-file checks waiting to run.', [['', runtime.prober.queue.size]]);
  metric('mirrorgate_freshness_checks_running', 'gauge', 'Content checks in flight, queued and first-request ones.', [['', runtime.prober.checksRunning]]);
  const verdicts = runtime.prober.verdicts;
  metric('mirrorgate_content_checks_total', 'counter', 'Content checks since start, by verdict.',
    [['{result="fresh"}', verdicts.fresh], ['{result="stale"}', verdicts.stale], ['{result="missing"}', verdicts.missing]]);
  const budget = runtime.prober.budget;
  metric('mirrorgate_check_bytes_total', 'counter', 'Bytes content checks fetched from each mirror since start.',
    mirrors.map((m) => [`{mirror="${m.name}"}`, budget.spent.get(m.name) ?? 0]));
  metric('mirrorgate_checks_deferred_total', 'counter', 'Content checks put off because the mirror\'s hourly byte budget was used up.',
    mirrors.map((m) => [`{mirror="${m.name}"}`, budget.deferred.get(m.name) ?? 0]));
  metric('mirrorgate_watched_directories', 'gauge', 'Repository directories under an inotify watch.', [['', runtime.watcher?.directories ?? 0]]);
  metric('mirrorgate_catalog_writes_pending', 'gauge', 'Catalog changes in memory whose database write failed and waits for a retry.',
    [['', runtime.catalog.pendingWrites]]);
  metric('mirrorgate_geoip_active', 'gauge', '1 when a location database is loaded and locality is on.',
    [['', runtime.locality.active ? 1 : 0]]);
  metric('mirrorgate_geoip_lookup_errors_total', 'counter', 'Location lookups that failed on a corrupt database node (answered as "unknown place").',
    [['', runtime.locality.lookupErrors]]);
  metric('mirrorgate_config_reloads_total', 'counter', 'Config reloads, by result.',
    [['{result="applied"}', runtime.reloads.applied], ['{result="rejected"}', runtime.reloads.rejected]]);
  metric('mirrorgate_db_reopens_total', 'counter', 'Times the database file was found deleted or replaced and opened anew.', [['', runtime.dbReopens]]);
  metric('mirrorgate_probe_pauses_total', 'counter', 'Times probing paused because this host ran short of file descriptors, ports or buffers.',
    [['', runtime.prober.pauses]]);
  metric('mirrorgate_connections_refused_total', 'counter', 'Connections closed at once: the client had http.maxConnectionsPerClient open, or the server its maximum.',
    [['{reason="per-client"}', app.connections.refusedPerClient], ['{reason="server-full"}', app.connections.refusedTotal]]);
  metric('mirrorgate_connections_max', 'gauge', 'Connections the server accepts at once.', [['', app.connections.maxConnections]]);
  metric('mirrorgate_counters_pending', 'gauge', 'Counter rows waiting for the next flush.', [['', runtime.counters.pending]]);
  return `${lines.join('\n')}\n`;
}
