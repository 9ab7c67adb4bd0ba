// /_mirrorgate/metrics as prom-client registries. Every value is read from the runtime when Prometheus
// scrapes (collect callbacks), so the redirect path pays nothing for metrics. Each process has its own
// registry; which metrics it holds follows what it does, so that adding them up across --workers
// counts everything once:
// - serving (single process, each worker): requests and bytes per target, connections, utilisation;
// - background (single process, the primary): catalog, mirror state, probes, checks, reloads;
// - every process: Node's own metrics (event-loop lag, GC, heap, file descriptors), labelled with the
//   process, and database reopens.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Runtime } from '../runtime/runtime.js';
import type { ConnectionGuard } from '../http/connections.js';
import type { AccessLog } from '../http/access-log.js';

type Role = 'single' | 'primary' | 'worker';

/** Probe and check durations, in seconds: from a fast loopback mirror to a timeout. */
const PROBE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function buildRegistry(runtime: Runtime, role: Role, processLabel: string, http: { connections?: ConnectionGuard; accessLog?: AccessLog } = {}): Registry {
  const { connections, accessLog } = http;
  const registry = new Registry();
  const registers = [registry];
  // With cluster.redis every series names its instance, so one Prometheus can scrape the whole cluster.
  if (runtime.sharing !== undefined) registry.setDefaultLabels({ mirrorgate_instance: runtime.sharing.status().instance });
  collectDefaultMetrics({ register: registry, labels: { process: processLabel } });
  const mirrors = () => runtime.config.mirrors;

  /** A counter whose value is read at scrape time from a monotonic number kept elsewhere. */
  const counter = (name: string, help: string, labelNames: string[], samples: () => Iterable<[Record<string, string>, number]>) => new Counter({
    name, help, labelNames, registers,
    collect() {
      this.reset();
      for (const [labels, value] of samples()) this.inc(labels, value);
    },
  });
  const gauge = (name: string, help: string, labelNames: string[], samples: () => Iterable<[Record<string, string>, number]>, aggregator: 'sum' | 'average' | 'min' | 'max' = 'sum') => new Gauge({
    name, help, labelNames, registers, aggregator,
    collect() {
      this.reset();
      for (const [labels, value] of samples()) this.set(labels, value);
    },
  });
  const one = (value: () => number) => () => [[{}, value()]] as [Record<string, string>, number][];

  counter('mirrorgate_db_reopens_total', 'Times the database file was found deleted or replaced and opened anew.', [], one(() => runtime.dbReopens));

  if (role !== 'primary') {
    const totals = () => runtime.counters.totals;
    counter('mirrorgate_requests_total', 'Downloads answered since start, by target (mirror, _local, _fallback).', ['target'],
      () => [...totals()].map(([target, t]) => [{ target }, t.requests]));
    counter('mirrorgate_bytes_total', 'Bytes handed off since start, by target.', ['target'],
      () => [...totals()].map(([target, t]) => [{ target }, t.bytes]));
    gauge('mirrorgate_mirror_utilisation', 'Bytes sent over the capacity window / what the effective capacity moves in it.', ['mirror'],
      () => mirrors().map((m) => [{ mirror: m.name }, runtime.states.utilisation(m)]), 'average');
    gauge('mirrorgate_counters_pending', 'Counter rows waiting for the next flush.', [], one(() => runtime.counters.pending + runtime.downloads.pending));
    const catalog = runtime.catalog;
    counter('mirrorgate_catalog_lookups_total', 'Catalog lookups since start: answered from this process\'s cache of recent paths, or read from the database (a path not asked lately, or not a file).',
      ['result'], () => [[{ result: 'cached' }, catalog.lookups - catalog.misses], [{ result: 'database' }, catalog.misses]]);
    gauge('mirrorgate_catalog_cache_entries', 'Catalog entries kept in this process\'s cache of recent paths (at most 100,000).', [], one(() => catalog.cached));
    counter('mirrorgate_geoip_lookup_errors_total', 'Location lookups that failed on a corrupt database node (answered as "unknown place").', [],
      one(() => runtime.locality.lookupErrors));
    if (connections !== undefined) {
      counter('mirrorgate_connections_refused_total', 'Connections closed at once: the client had http.maxConnectionsPerClient open, or the server its maximum.',
        ['reason'], () => [[{ reason: 'per-client' }, connections.refusedPerClient], [{ reason: 'server-full' }, connections.refusedTotal]]);
      gauge('mirrorgate_connections_max', 'Connections the server accepts at once (all workers together).', [], one(() => connections.maxConnections));
    }
  }

  const sharing = runtime.sharing;
  if (sharing !== undefined) {
    const status = () => sharing.status();
    gauge('mirrorgate_cluster_redis_connected', '1 when Redis answered within cluster.fallbackSeconds (every process of this instance, under --workers).', [],
      one(() => (sharing.live ? 1 : 0)), 'min');
    gauge('mirrorgate_cluster_instances', 'Instances (distinct --instance names) seen live through Redis.', [], one(() => status().instances), 'max');
    gauge('mirrorgate_cluster_config_drift', '1 when the live instances run different mirrors.json files (compare their digests on the dashboard).', [],
      one(() => (status().configDrift ? 1 : 0)), 'max');
    gauge('mirrorgate_cluster_totals_pending', 'Counter rows waiting to be added to the cluster totals in Redis.', [], one(() => sharing.totals.size));
    counter('mirrorgate_cluster_totals_dropped_total', 'Counter rows dropped from a full buffer while Redis was away (the SQLite counters still have them).', [],
      one(() => sharing.totals.dropped));
    counter('mirrorgate_cluster_fallbacks_total', 'Times Redis went unanswered for cluster.fallbackSeconds and this instance went on alone.', [],
      one(() => sharing.stats.fallbacks));
    if (role !== 'worker') {
      gauge('mirrorgate_cluster_probe_leases', 'Mirrors this instance holds the probe lease of.', [], one(() => status().leases.length));
      counter('mirrorgate_cluster_events_total', 'Health and evidence records shared through Redis, by direction.', ['direction'],
        () => [[{ direction: 'published' }, sharing.stats.published], [{ direction: 'received' }, sharing.stats.received]]);
    }
  }

  if (accessLog !== undefined) {
    counter('mirrorgate_access_log_dropped_total', 'Access log lines dropped: the disk failed or fell more than 16 MiB behind.', [], one(() => accessLog.dropped));
    counter('mirrorgate_access_log_errors_total', 'Access log write errors (each logged at most once a minute; the file is reopened 5 s later).', [],
      one(() => accessLog.errors));
  }

  if (role !== 'worker') {
    const states = runtime.states;
    gauge('mirrorgate_catalog_files', 'Files in the catalog.', [], one(() => runtime.catalog.size));
    gauge('mirrorgate_mirror_enabled', '1 when the mirror is enabled in the config.', ['mirror'],
      () => mirrors().map((m) => [{ mirror: m.name }, m.enabled ? 1 : 0]));
    gauge('mirrorgate_mirror_up', '1 when the mirror is enabled and passes its health probes (or probing is off).', ['mirror'],
      () => mirrors().map((m) => [{ mirror: m.name }, m.enabled && states.get(m.name).health.state !== 'down' ? 1 : 0]));
    gauge('mirrorgate_mirror_effective_mbps', 'Declared bandwidth scaled by what the probes measure.', ['mirror'],
      () => mirrors().map((m) => [{ mirror: m.name }, states.effectiveMbps(m)]));
    const prober = runtime.prober;
    gauge('mirrorgate_freshness_checks_pending', 'Per-file checks waiting to run.', [], one(() => prober.queue.size));
    gauge('mirrorgate_freshness_checks_running', 'Content checks in flight, queued and first-request ones.', [], one(() => prober.checksRunning));
    counter('mirrorgate_content_checks_total', 'Content checks since start, by verdict.', ['result'],
      () => Object.entries(prober.verdicts).map(([result, n]) => [{ result }, n]));
    counter('mirrorgate_check_bytes_total', 'Bytes content checks fetched from each mirror since start.', ['mirror'],
      () => mirrors().map((m) => [{ mirror: m.name }, prober.budget.spent.get(m.name) ?? 0]));
    counter('mirrorgate_checks_deferred_total', 'Content checks put off because the mirror\'s hourly byte budget was used up.', ['mirror'],
      () => mirrors().map((m) => [{ mirror: m.name }, prober.budget.deferred.get(m.name) ?? 0]));
    counter('mirrorgate_probe_pauses_total', 'Times probing paused because this host ran short of file descriptors, ports or buffers.', [],
      one(() => prober.pauses));
    gauge('mirrorgate_watched_directories', 'Repository directories under an inotify watch.', [], one(() => runtime.watcher?.directories ?? 0));
    gauge('mirrorgate_catalog_writes_pending', 'Catalog changes in memory whose database write failed and waits for a retry.', [],
      one(() => runtime.catalog.pendingWrites));
    gauge('mirrorgate_geoip_active', '1 when a location database is loaded and locality is on.', [], one(() => (runtime.locality.active ? 1 : 0)));
    counter('mirrorgate_config_reloads_total', 'Config reloads, by result.', ['result'],
      () => [[{ result: 'applied' }, runtime.reloads.applied], [{ result: 'rejected' }, runtime.reloads.rejected]]);
    const health = new Histogram({
      name: 'mirrorgate_probe_duration_seconds', help: 'Health probes (HEAD) by mirror and result: the mirror\'s answer time.',
      labelNames: ['mirror', 'result'], buckets: PROBE_BUCKETS, registers,
    });
    const checks = new Histogram({
      name: 'mirrorgate_check_duration_seconds', help: 'Content checks by mirror and verdict: the time to fetch and compare.',
      labelNames: ['mirror', 'result'], buckets: PROBE_BUCKETS, registers,
    });
    prober.timings = {
      health: (mirror, seconds, ok) => health.observe({ mirror, result: ok ? 'ok' : 'failed' }, seconds),
      check: (mirror, seconds, verdict) => checks.observe({ mirror, result: verdict }, seconds),
    };
  }
  return registry;
}
