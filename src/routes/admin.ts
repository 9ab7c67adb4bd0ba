// Operator endpoints under /_mirrorgate/ (the catalog never holds that name: it is not a download path).
// health for load balancers (public: only whether it is up; operators get the details), and for
// operators only (admin.allow networks or the bearer token): metrics in Prometheus text format
// (src/metrics/), mirrors and explain as JSON, and the dashboard (src/dashboard/) at /_mirrorgate/.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Runtime } from '../runtime/runtime.js';
import { resolveClient, normalizeIp } from '../http/client-address.js';
import { clientOf } from '../http/client.js';
import { normalizeRequestPath } from '../catalog/request-path.js';
import { selectionInput } from '../runtime/selection-input.js';
import { evidenceRows } from '../probing/evidence-report.js';
import { explainAnswer } from '../selection/explain.js';
import { parseAvoid } from './download.js';
import { isOperator, operatorsOnly } from '../http/admin-access.js';
import { dashboardData, type DashboardData } from '../dashboard/data.js';
import { dashboardPage } from '../dashboard/page.js';

export const ADMIN_PREFIX = '/_mirrorgate';

const DASHBOARD_CACHE_MS = 2000;

/** The Prometheus text format prom-client writes. */
const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

/** `metricsText`: this process's registry, or under --workers the whole server's (cluster.ts). */
export function adminRoutes(app: FastifyInstance, runtime: Runtime, token: string | undefined, metricsText: () => Promise<string>): void {
  const onRequest = operatorsOnly(() => runtime, token);
  app.get(`${ADMIN_PREFIX}/health`, async (request) => (!isOperator(request, runtime, token) ? { status: 'ok' } : {
    status: 'ok',
    files: runtime.catalog.size,
    catalogCache: { entries: runtime.catalog.cached, lookups: runtime.catalog.lookups, misses: runtime.catalog.misses },
    mirrors: runtime.config.mirrors.length,
    enabled: runtime.config.mirrors.filter((m) => m.enabled).length,
    scanning: runtime.scanInProgress,
    geoip: runtime.locality.active,
    geoipLookupErrors: runtime.locality.lookupErrors,
    role: runtime.role,
    pid: process.pid,
    memoryRssBytes: process.memoryUsage.rss(),
    memoryHeapUsedBytes: process.memoryUsage().heapUsed,
    watch: runtime.watchReport === undefined ? null : { ...runtime.watchReport, directories: runtime.watcher?.directories ?? 0 },
    catalogWritesPending: runtime.catalog.pendingWrites,
    probePaused: runtime.prober.pausedBecause ?? null,
    dbReopens: runtime.dbReopens,
    cluster: runtime.sharing?.status() ?? null,
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

  // The dashboard: its data is gathered at most every DASHBOARD_CACHE_MS (a few SQL sums over the
  // counters), however many operators keep it open.
  let cached: { at: number; data: DashboardData } | undefined;
  const dashboard = () => {
    const now = runtime.now;
    if (cached === undefined || now - cached.at >= DASHBOARD_CACHE_MS || now < cached.at) cached = { at: now, data: dashboardData(runtime, now) };
    return cached.data;
  };
  app.get(ADMIN_PREFIX, { onRequest }, async (_request, reply) => reply.code(301).header('location', `${ADMIN_PREFIX}/`).send());
  // A database that cannot be read (a failing disk) makes the dashboard a 503 that says so; it is logged.
  const unavailable = (reply: FastifyReply, err: unknown) => {
    runtime.log.error({ err: (err as Error).message }, 'cannot read the dashboard\'s data');
    return reply.code(503).header('retry-after', '10').type('text/plain').send(`Service Unavailable: cannot read the database (${(err as Error).message})\n`);
  };
  app.get(`${ADMIN_PREFIX}/`, { onRequest }, async (_request, reply) => {
    let data: DashboardData;
    try {
      data = dashboard();
    } catch (err) {
      return unavailable(reply, err);
    }
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store')
      // The page has no script and loads nothing: a browser may run or fetch nothing for it.
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
      .header('x-content-type-options', 'nosniff')
      .send(dashboardPage(data));
  });
  app.get(`${ADMIN_PREFIX}/dashboard.json`, { onRequest }, async (_request, reply) => {
    try {
      return await reply.header('cache-control', 'no-store').send(dashboard());
    } catch (err) {
      return unavailable(reply, err);
    }
  });

  app.get(`${ADMIN_PREFIX}/metrics`, { onRequest }, async (_request, reply) => {
    let text: string;
    try {
      text = await metricsText();
    } catch (err) {
      runtime.log.error({ err: (err as Error).message }, 'cannot gather the metrics');
      return reply.code(503).header('retry-after', '5').type('text/plain').send(`Service Unavailable: ${(err as Error).message}\n`);
    }
    return reply.type(PROMETHEUS_TEXT).send(text);
  });
}
