// `mirrorgate serve --workers N`: one primary and N workers sharing the port (node:cluster). The primary
// does all background work (scans, probes, hashing, pruning) exactly once and serves nothing; workers
// serve requests, write their own counter deltas (additive upserts, so the sums are exact), read the
// primary's probe results from SQLite every 500 ms, and send it the freshness checks they need: queued
// ones in batches, and the ones a first request waits for at once, answered with their evidence. A
// metrics scrape reaching a worker is answered by the primary for the whole server (src/metrics/), and
// SIGUSR1 to the primary makes every worker reopen its access log.
import cluster, { type Worker } from 'node:cluster';
import { pino } from 'pino';
import { Runtime } from './runtime/runtime.js';
import { startServer, type RunningServer } from './server.js';
import type { Settings } from './settings.js';
import type { Log } from './log.js';
import type { Evidence, FileRef } from './probing/freshness.js';
import { RateAggregator, SharedCounts, type Deltas, type OthersCounts } from './http/rate-share.js';
import { buildRegistry } from './metrics/registry.js';
import { MetricsAggregator } from './metrics/cluster-metrics.js';
import type { Registry } from 'prom-client';

type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

type ToPrimary =
  | { type: 'metrics'; id: number }
  | { type: 'metrics-part'; id: number; metrics: MetricsJson }
  | { type: 'check'; items: [string, string, number][] }
  | { type: 'rate'; deltas: Deltas }
  | { type: 'urgent'; id: number; mirror: string; file: FileRef };
type ToWorker =
  | { type: 'metrics-collect'; id: number }
  | { type: 'metrics-text'; id: number; text: string }
  | { type: 'reload' }
  | { type: 'reopen' }
  | { type: 'catalog' }
  | { type: 'shutdown' }
  | { type: 'rate'; counts: OthersCounts }
  | { type: 'evidence'; id: number; mirror: string; path: string; evidence: Evidence | null };

const CHECK_BATCH_MS = 100;
/** The primary waits up to 8 s for the workers' parts (Prometheus gives a scrape 10 s); a worker a little longer for the sum. */
const METRICS_WAIT_MS = 9000;
const SHUTDOWN_GRACE_MS = 15_000;

export interface RunningCluster {
  readonly closed: Promise<void>;
}

export async function startCluster(settings: Settings, workers: number, adminToken?: string): Promise<RunningCluster> {
  if (cluster.isWorker) return startWorker(settings, workers, adminToken);
  const broadcast = (msg: ToWorker) => {
    for (const w of Object.values(cluster.workers ?? {})) if (w?.isConnected()) w.send(msg);
  };
  const log = pino({ level: settings.logLevel }).child({ role: 'primary' }) as unknown as Log;
  // Workers follow the catalog on their own every 500 ms; told of a change, they follow at once.
  const onCatalogChange = () => broadcast({ type: 'catalog' });
  const runtime = await Runtime.start({
    configPath: settings.config, dbPath: settings.db, log, role: 'primary', onCatalogChange, instance: settings.instance, processLabel: 'primary',
  });
  let stopping = false;
  const metrics = new MetricsAggregator(buildRegistry(runtime, 'primary', 'primary'));
  const connected = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w?.isConnected() === true);
  const rates = new RateAggregator(() => runtime.config.rateLimit.windowSeconds * 1000);
  const shareRates = (from: number, deltas: Deltas) => {
    const alive = connected();
    const counts = rates.add(from, deltas, alive.map((w) => w.id));
    for (const w of alive) {
      const mine = counts.get(w.id);
      if (mine !== undefined && mine.length > 0) w.send({ type: 'rate', counts: mine } satisfies ToWorker);
    }
  };
  const spawn = (): Worker => {
    const worker = cluster.fork();
    worker.on('message', (msg: ToPrimary) => {
      if (msg.type === 'metrics-part') metrics.receive(worker.id, msg.id, msg.metrics);
      if (msg.type === 'metrics') {
        void metrics.scrape(connected()).then((text) => {
          if (worker.isConnected()) worker.send({ type: 'metrics-text', id: msg.id, text } satisfies ToWorker);
        });
      }
      if (msg.type === 'check') for (const [m, p, t] of msg.items) runtime.prober.queue.add(m, p, t);
      if (msg.type === 'rate') shareRates(worker.id, msg.deltas);
      if (msg.type === 'urgent') {
        const mirror = runtime.config.mirrors.find((m) => m.name === msg.mirror);
        const checked = mirror === undefined ? Promise.resolve(undefined) : runtime.prober.urgent(mirror, msg.file);
        void checked.then((evidence) => {
          if (worker.isConnected()) {
            worker.send({ type: 'evidence', id: msg.id, mirror: msg.mirror, path: msg.file.path, evidence: evidence ?? null } satisfies ToWorker);
          }
        });
      }
    });
    worker.on('exit', (code, signal) => {
      metrics.workerExited(worker.id);
      if (stopping) return;
      log.error({ pid: worker.process.pid, code, signal }, 'worker died; starting another');
      spawn();
    });
    return worker;
  };
  for (let i = 0; i < workers; i++) spawn();
  log.info({ workers }, 'cluster started');

  let markClosed = () => {};
  const closed = new Promise<void>((resolve) => { markClosed = resolve; });
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down workers');
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    await Promise.all(alive.map((w) => new Promise<void>((resolve) => {
      const force = setTimeout(() => w.kill('SIGKILL'), SHUTDOWN_GRACE_MS);
      w.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      w.send({ type: 'shutdown' } satisfies ToWorker);
    })));
    await runtime.close();
    process.off('SIGTERM', onTerm).off('SIGINT', onInt).off('SIGHUP', onHup).off('SIGUSR1', onUsr1);
    markClosed();
  };
  const onTerm = () => void stop('SIGTERM');
  const onInt = () => void stop('SIGINT');
  const onHup = () => {
    void runtime.reload();
    runtime.rescan().catch(() => undefined);
    broadcast({ type: 'reload' });
  };
  // logrotate signals the primary (systemd's MAINPID): each worker reopens its access log.
  const onUsr1 = () => broadcast({ type: 'reopen' });
  process.on('SIGTERM', onTerm).on('SIGINT', onInt).on('SIGHUP', onHup).on('SIGUSR1', onUsr1);
  return { closed };
}

async function startWorker(settings: Settings, workers: number, adminToken: string | undefined): Promise<RunningCluster> {
  let pending: [string, string, number][] = [];
  let timer: NodeJS.Timeout | undefined;
  const requestCheck = (mirror: string, path: string, mtimeMs: number) => {
    if (pending.length >= 10_000) return;
    pending.push([mirror, path, mtimeMs]);
    timer ??= setTimeout(() => {
      timer = undefined;
      const items = pending;
      pending = [];
      if (process.connected) process.send?.({ type: 'check', items } satisfies ToPrimary);
    }, CHECK_BATCH_MS);
  };
  let nextId = 0;
  const waiting = new Map<number, (evidence: Evidence | undefined) => void>();
  const requestUrgent = (mirror: string, file: FileRef) => new Promise<Evidence | undefined>((resolve) => {
    if (!process.connected) return resolve(undefined);
    const id = ++nextId;
    waiting.set(id, resolve);
    const { path, size, mtimeMs, ctimeMs } = file;
    process.send?.({ type: 'urgent', id, mirror, file: { path, size, mtimeMs, ctimeMs } } satisfies ToPrimary);
  });
  const rateShare = new SharedCounts((deltas) => {
    if (process.connected) process.send?.({ type: 'rate', deltas } satisfies ToPrimary);
  });
  // /_mirrorgate/metrics in a worker: the primary's sum of every process, or an error after METRICS_WAIT_MS.
  const texts = new Map<number, (text: string) => void>();
  const metricsText = () => new Promise<string>((resolve, reject) => {
    if (!process.connected) return reject(new Error('the primary is gone'));
    const id = ++nextId;
    const timer = setTimeout(() => {
      texts.delete(id);
      reject(new Error('the primary did not answer'));
    }, METRICS_WAIT_MS);
    texts.set(id, (text) => {
      clearTimeout(timer);
      resolve(text);
    });
    process.send?.({ type: 'metrics', id } satisfies ToPrimary);
  });
  const processLabel = `worker-${cluster.worker?.id ?? process.pid}`;
  const server: RunningServer = await startServer(settings, { role: 'worker', workers, requestCheck, requestUrgent, rateShare, adminToken, metricsText, processLabel });
  process.on('message', (msg: ToWorker) => {
    if (msg.type === 'metrics-collect') {
      void server.app.metrics.getMetricsAsJSON().then((metrics) => {
        if (process.connected) process.send?.({ type: 'metrics-part', id: msg.id, metrics } satisfies ToPrimary);
      });
    }
    if (msg.type === 'metrics-text') {
      texts.get(msg.id)?.(msg.text);
      texts.delete(msg.id);
    }
    if (msg.type === 'rate') rateShare.receive(msg.counts);
    if (msg.type === 'reload') void server.app.mirrorgate.reload();
    if (msg.type === 'reopen') server.app.accessLog?.reopen();
    if (msg.type === 'catalog') server.app.mirrorgate.catalog.follow();
    if (msg.type === 'shutdown') void server.close();
    if (msg.type === 'evidence') {
      if (msg.evidence !== null) server.app.mirrorgate.states.get(msg.mirror).evidence.set(msg.path, msg.evidence);
      waiting.get(msg.id)?.(msg.evidence ?? undefined);
      waiting.delete(msg.id);
    }
  });
  // Ctrl-C reaches the whole process group: the primary coordinates, workers wait for its word.
  process.removeAllListeners('SIGINT');
  process.on('SIGINT', () => {});
  const closed = server.closed.then(() => {
    if (timer) clearTimeout(timer);
    rateShare.stop();
    process.disconnect?.();
  });
  return { closed };
}
