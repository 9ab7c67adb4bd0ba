// The composition root of a running mirrorgate, free of Fastify: the database, the current config, the
// catalog, the counters and the background loops that keep them fresh. The HTTP layer reads from it; the
// CLI's offline commands use the same pieces directly.
import { DbFile, readMeta, writeMeta, type Db } from '../db/open.js';
import { formatProblems, loadConfigFile, loadConfigOrThrow, type Config, type ConfigResult, type Mirror } from '../config/load.js';
import { Catalog, type FileEntry, type PathUpdate, type ScanReport } from '../catalog/catalog.js';
import { carryFiles } from '../catalog/files-table.js';
import { Hasher } from '../catalog/hasher.js';
import { LocalCopy } from '../catalog/local-copy.js';
import { RepositoryWatcher, type WatchReport } from '../catalog/watcher.js';
import { scanRepository } from '../catalog/scan.js';
import type { Evidence, FileRef } from '../probing/freshness.js';
import { Counters, FALLBACK, LOCAL } from '../counters/counters.js';
import { CounterStore } from '../counters/store.js';
import { DownloadStats, type HourTally } from '../counters/downloads.js';
import { DownloadStore } from '../counters/download-store.js';
import { ConfigWatcher } from './config-watcher.js';
import { Loop } from './loop.js';
import { TrustList } from '../http/trust-list.js';
import { Locality } from './locality.js';
import { volatileMatcher } from '../catalog/volatile.js';
import { MirrorStates } from '../probing/mirror-states.js';
import { ProbeStore } from '../probing/store.js';
import { Prober } from '../probing/prober.js';
import { gotProbeHttp, type ProbeHttp } from '../probing/http-client.js';
import type { RoundRobinState } from '../selection/select.js';
import type { SelectionContext } from './selection-input.js';
import type { Log } from '../log.js';
import { ClusterLink, TICK_MS } from '../sharing/link.js';

export interface RuntimeOptions {
  readonly configPath: string;
  readonly dbPath: string;
  readonly log: Log;
  /** Watch the config file and apply edits (default true). SIGHUP reload works either way. */
  readonly watchConfig?: boolean;
  readonly now?: () => number;
  /** Outbound HTTP for probes; tests may substitute one. */
  readonly probeHttp?: ProbeHttp;
  readonly random?: () => number;
  /**
   * 'single' does everything. With --workers N, the 'primary' does the background work (scans, probes,
   * hashing, pruning) and serves nothing; each 'worker' serves requests, reads the primary's results
   * from SQLite and hands its freshness-check requests to `requestCheck` (IPC to the primary).
   */
  readonly role?: 'single' | 'primary' | 'worker';
  readonly workers?: number;
  readonly requestCheck?: (mirror: string, path: string, stamp: number) => void;
  /** Called after this process changed the catalog (the primary tells its workers to follow at once). */
  readonly onCatalogChange?: () => void;
  /** In a worker: asks the primary for a check a request waits for (IPC), resolving with its evidence. */
  readonly requestUrgent?: (mirror: string, file: FileRef) => Promise<Evidence | undefined>;
  /** This instance's name among those sharing cluster.redis (--instance). */
  readonly instance?: string;
  /** Names this process: 'main', 'primary' or 'worker-N' (metrics' `process` label, the cluster's member records). */
  readonly processLabel?: string;
}

/** How often the catalog follows changes written by another process (a worker's primary, `mirrorgate scan`). */
const CATALOG_POLL_MS = 500;
const PRUNE_INTERVAL_MS = 10 * 60_000;
const GEO_REFRESH_MS = 30_000;
const PROBE_TICK_MS = 250;
/** How often a worker reads the primary's health and evidence: "every worker sees it within a second". */
const PROBE_SYNC_MS = 500;
/** How often the database file is looked for (deleted or replaced under us). */
const DB_CHECK_MS = 1000;

/** Download statistics rows written per transaction and per turn of the event loop (about 4 ms). */
const DOWNLOADS_PER_WRITE = 1000;

export class Runtime implements SelectionContext {
  config: Config;
  /** trustProxy as a matcher, rebuilt with each config. */
  trusted: TrustList;
  /** admin.allow as a matcher, rebuilt with each config. */
  adminAllowed: TrustList;
  readonly catalog: Catalog;
  readonly counters: Counters;
  /** Downloads per file and per client country, flushed with the counters. */
  readonly downloads: DownloadStats;
  readonly locality: Locality;
  readonly states: MirrorStates;
  readonly prober: Prober;
  readonly roundRobin: RoundRobinState = new Map();
  isVolatile: (path: string) => boolean;
  /** isVolatile for catalog entries, remembered per file (the redirect path asks on every request). */
  isVolatileFile: (file: FileEntry) => boolean;
  readonly reloads = { applied: 0, rejected: 0 };
  private readonly store: CounterStore;
  readonly downloadStore: DownloadStore;
  readonly hasher: Hasher;
  private readonly loops: Loop[] = [];
  private readonly configWatcher: ConfigWatcher | undefined;
  private scanning: Promise<ScanReport> | undefined;
  private readonly stopScan = new AbortController();
  private closed = false;
  /** Download statistics drained and waiting for their turn to be written (flushDownloads). */
  private readonly downloadsPending: { files: HourTally[]; countries: HourTally[] } = { files: [], countries: [] };
  private downloadsWriting = false;
  private readonly probeStore: ProbeStore;
  private evidenceWatermark = 0;
  private reloading: Promise<void> = Promise.resolve();
  /** The repository watcher (single process and primary, with catalog.watch). */
  watcher: RepositoryWatcher | undefined;
  watchReport: WatchReport | undefined;

  /** With cluster.redis: this process's link to the other instances (src/sharing/). */
  readonly sharing: ClusterLink | undefined;

  readonly db: Db;
  /** Times the database file was found deleted or replaced and opened anew. */
  dbReopens = 0;

  private constructor(private readonly dbFile: DbFile, config: Config, private readonly options: RuntimeOptions, readonly log: Log) {
    const db = dbFile.db;
    this.db = db;
    this.config = config;
    this.trusted = new TrustList(config.trustProxy);
    this.adminAllowed = new TrustList(config.admin.allow);
    this.catalog = new Catalog(db);
    this.counters = new Counters(options.now);
    this.downloads = new DownloadStats(options.now);
    this.locality = new Locality(log.child({ component: 'geoip' }));
    this.locality.configure(config);
    this.isVolatile = volatileMatcher(config.volatile);
    this.isVolatileFile = this.catalog.memoize(this.isVolatile);
    this.store = new CounterStore(db);
    this.downloadStore = new DownloadStore(db);
    const now = options.now ?? Date.now;
    const requestCheck = options.requestCheck ?? ((mirror: string, path: string, stamp: number) => this.prober.queue.add(mirror, path, stamp));
    this.states = new MirrorStates(() => this.config, now, requestCheck, options.workers ?? 1);
    const probeStore = new ProbeStore(db);
    this.probeStore = probeStore;
    this.sharing = config.cluster.redis === undefined ? undefined : new ClusterLink({
      role: this.role, instance: options.instance ?? 'mirrorgate', processLabel: options.processLabel ?? 'main',
      config: () => this.config, states: this.states, now, log: log.child({ component: 'cluster' }),
      adoptHealth: (mirror, record) => this.prober.adoptHealth(mirror, record),
      adoptEvidence: (mirror, path, evidence) => this.prober.adoptEvidence(mirror, path, evidence),
    });
    this.prober = new Prober({
      config: () => this.config, catalog: this.catalog, states: this.states, store: probeStore,
      http: options.probeHttp ?? gotProbeHttp, log: log.child({ component: 'prober' }), now,
      random: options.random ?? Math.random, isVolatile: (path) => this.isVolatile(path),
      local: new LocalCopy(db, () => this.config.repository),
      onLocalChange: (path, stat) => this.applyChanges([{ path, stat }]),
      ...(this.sharing === undefined ? {} : { sharing: this.sharing }),
    });
    this.syncProbeState();
    this.hasher = new Hasher(db, this.catalog, () => this.config.repository, () => this.config.catalog.hashConcurrency, log.child({ component: 'hasher' }));
    if (options.watchConfig !== false) this.configWatcher = new ConfigWatcher(config.source, () => void this.reload());
  }

  /** Loads config and catalog; scans first when the db has no catalog for this repository yet. */
  static async start(options: RuntimeOptions): Promise<Runtime> {
    const config = await loadConfigOrThrow(options.configPath);
    const dbFile = new DbFile(options.dbPath);
    const migrations = dbFile.migrations;
    const log = options.log;
    if (migrations.applied.length > 0) log.info({ migrations: migrations.applied, version: migrations.to }, 'database migrated');
    const runtime = new Runtime(dbFile, config, options, log);
    runtime.catalog.load();
    await runtime.locality.refresh();
    if (runtime.role !== 'worker') {
      // Watch first, then scan: a change in between is seen by one or the other.
      const first = runtime.watchRepository().then(() => runtime.rescan()).catch(() => undefined); // a missing repository is logged, not fatal
      // A catalog of this repository persisted by an earlier run answers at once; the scan refreshes it.
      if (readMeta(runtime.db, 'catalog_root') !== config.repository || runtime.catalog.size === 0) await first;
    }
    runtime.startLoops();
    runtime.configWatcher?.start();
    return runtime;
  }

  get role(): 'single' | 'primary' | 'worker' {
    return this.options.role ?? 'single';
  }

  get now(): number {
    return (this.options.now ?? Date.now)();
  }

  /**
   * Re-reads the config file; applies it only when valid, otherwise logs why and keeps the old one.
   * Reloads run one after another, so the last edit is the one applied.
   */
  reload(): Promise<ConfigResult> {
    const next = this.reloading.then(() => this.reloadNow());
    this.reloading = next.then(() => undefined, () => undefined);
    return next;
  }

  private async reloadNow(): Promise<ConfigResult> {
    let result: ConfigResult;
    try {
      result = await loadConfigFile(this.config.source);
    } catch (err) {
      result = { ok: false, problems: [{ path: '(root)', message: (err as Error).message }] };
    }
    if (this.closed) return result;
    if (!result.ok) {
      this.reloads.rejected += 1;
      this.log.error({ problems: result.problems }, `config not applied, still serving the previous one:\n${formatProblems(result.problems)}`);
      return result;
    }
    const previous = this.config;
    this.config = result.config;
    this.trusted = new TrustList(result.config.trustProxy);
    this.adminAllowed = new TrustList(result.config.admin.allow);
    this.locality.configure(result.config);
    void this.locality.refresh();
    this.isVolatile = volatileMatcher(result.config.volatile);
    this.isVolatileFile = this.catalog.memoize(this.isVolatile);
    this.reloads.applied += 1;
    for (const w of result.warnings) this.log.warn(w, 'config warning');
    if (JSON.stringify(previous.cluster) !== JSON.stringify(result.config.cluster)) {
      this.log.warn({ was: previous.cluster.redis ?? null, now: result.config.cluster.redis ?? null },
        'cluster settings changed: leaseSeconds and fallbackSeconds apply now; redis, the password, TLS, keyPrefix and sharedRateLimit take a restart');
    }
    this.log.info({ mirrors: result.config.mirrors.length }, 'config applied');
    if ((previous.repository !== result.config.repository || previous.catalog.watch !== result.config.catalog.watch) && this.role !== 'worker') {
      void this.watchRepository().then(() => this.rescan()).catch(() => undefined);
    }
    return result;
  }

  /** (Re)starts the repository watcher for the current config; stops it when catalog.watch is off. */
  async watchRepository(): Promise<void> {
    this.watcher?.stop();
    this.watcher = undefined;
    if (!this.config.catalog.watch || this.closed) return;
    const root = this.config.repository;
    const watcher = new RepositoryWatcher({
      root,
      apply: (updates) => this.applyChanges(updates),
      pathsUnder: (prefix) => this.catalog.pathsUnder(prefix),
      listDirectories: () => scanRepository(root, this.stopScan.signal, false).then((walked) => walked.dirs),
      log: this.log.child({ component: 'watcher' }),
    });
    this.watcher = watcher;
    this.watchReport = await watcher.start();
    this.log.info({ repository: root, ...this.watchReport }, 'watching the repository');
  }

  /**
   * Changes to the repository seen by the watcher or by a check that read our copy: into the catalog at
   * once (memory first, so every answer after this relies on them), then hashing of the new copies.
   */
  applyChanges(updates: readonly PathUpdate[]): void {
    let counts;
    try {
      counts = this.catalog.patch(updates);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, pending: this.catalog.pendingWrites }, 'catalog change not written to the database; will retry');
      this.hasher.kick();
      return;
    }
    if (counts.added + counts.changed + counts.removed === 0) return;
    this.log.debug({ ...counts }, 'repository changed');
    this.options.onCatalogChange?.();
    this.hasher.kick();
  }

  /** Any fresh evidence for `path` from this process's prober (a worker has none: undefined). */
  whenFresh(path: string): { readonly fresh: Promise<void>; cancel(): void } | undefined {
    return this.role === 'worker' ? undefined : this.prober.whenFresh(path);
  }

  /** A check a request waits for: run here, or by the primary when this is a worker. */
  urgentCheck(mirror: Mirror, file: FileRef): Promise<Evidence | undefined> {
    if (this.role === 'worker') return this.options.requestUrgent?.(mirror.name, file) ?? Promise.resolve(undefined);
    return this.prober.urgent(mirror, file);
  }

  /** True while a repository scan is running. */
  get scanInProgress(): boolean {
    return this.scanning !== undefined;
  }

  /** Rescans the repository; concurrent calls share one scan. A worker only reloads what the primary wrote. */
  rescan(): Promise<ScanReport> {
    if (this.role === 'worker') {
      this.catalog.follow();
      return Promise.resolve({ files: this.catalog.size, added: 0, changed: 0, removed: 0, ms: 0 });
    }
    if (this.scanning) return this.scanning;
    const root = this.config.repository;
    const watcher = this.watcher;
    watcher?.beginScan();
    this.scanning = this.catalog.scan(root, this.stopScan.signal, (dirs) => void watcher?.ensureWatched(dirs))
      .then((report) => {
        writeMeta(this.db, 'catalog_root', root);
        this.log.info({ ...report, repository: root }, 'catalog scanned');
        if (report.added + report.changed + report.removed > 0) this.options.onCatalogChange?.();
        this.hasher.kick();
        return report;
      })
      .catch((err: unknown) => {
        if (!this.stopScan.signal.aborted) {
          this.log.warn({ repository: root, err: (err as Error).message }, 'cannot scan repository; keeping the previous catalog');
        }
        throw err;
      })
      .finally(() => {
        this.scanning = undefined;
        watcher?.endScan(); // what changed while the walk ran is looked at again: the walk may have older data
      });
    return this.scanning;
  }

  /**
   * The database file deleted or replaced under the running process: reported, then opened anew (and
   * migrated), so counts from now on land in the file at the path. The primary copies the catalog over
   * from the old connection; every process reads the new file's logs from their start.
   */
  checkDatabase(): void {
    const change = this.dbFile.changed();
    if (change === undefined) return;
    this.log.error({ db: this.dbFile.file, change },
      `the database file was ${change === 'missing' ? 'deleted' : 'replaced'} under the running server; opening it anew`);
    // Deleted: the old connection still reads the unlinked file, so its counts move to the new one.
    // Replaced (a restore): the counts in the file at the path are the ones wanted, as they are. The
    // catalog in the old file was the current one in both cases: the primary carries it over.
    let carried = 0;
    const owner = this.role !== 'worker';
    const migrations = this.dbFile.reopen((from, to) => {
      if (change === 'missing') carried = CounterStore.carry(from, to);
      if (owner) carryFiles(from, to);
    });
    this.dbReopens += 1;
    this.evidenceWatermark = 0;
    this.catalog.followAfresh();
    this.catalog.follow();
    if (owner) writeMeta(this.db, 'catalog_root', this.config.repository);
    this.log.warn({ db: this.dbFile.file, migrations: migrations.applied, files: this.catalog.size, counterRowsCarried: carried },
      'database reopened; counting goes on in the new file');
  }

  /** Writes counted requests and downloads to SQLite; on failure they stay in memory for the next try. */
  flush(): void {
    this.flushCounters();
    this.flushDownloads(true);
  }

  private flushCounters(): void {
    const tallies = this.counters.drain();
    try {
      this.store.write(tallies);
      this.sharing?.addTotals(tallies);
    } catch (err) {
      this.counters.restore(tallies);
      this.log.error({ err: (err as Error).message, pending: tallies.length }, 'cannot write counters; will retry');
    }
  }

  /**
   * Writes the download statistics drained since the last call, DOWNLOADS_PER_WRITE rows a transaction and
   * one transaction per turn of the event loop: ten thousand files downloaded in a flush interval are 50 ms
   * of upserts, which in one go would hold every redirect waiting behind them. `now` writes all at once
   * (closing). What fails goes back to the tallies for the next flush.
   */
  private flushDownloads(now = false): void {
    for (const t of this.downloads.files.drain()) this.downloadsPending.files.push(t);
    for (const t of this.downloads.countries.drain()) this.downloadsPending.countries.push(t);
    if (now) {
      while (this.writeDownloads()) { /* all of it */ }
    } else if (!this.downloadsWriting) {
      this.downloadsWriting = true;
      const step = () => {
        if (!this.closed && this.writeDownloads()) setImmediate(step);
        else this.downloadsWriting = false;
      };
      step();
    }
  }

  /** Writes one batch of the pending download statistics; true when more are pending. */
  private writeDownloads(): boolean {
    const pending = this.downloadsPending;
    const files = pending.files.splice(0, DOWNLOADS_PER_WRITE);
    const countries = files.length < DOWNLOADS_PER_WRITE ? pending.countries.splice(0, DOWNLOADS_PER_WRITE - files.length) : [];
    if (files.length + countries.length === 0) return false;
    try {
      this.downloadStore.write(files, countries);
      return pending.files.length + pending.countries.length > 0;
    } catch (err) {
      const back = { files: [...files, ...pending.files.splice(0)], countries: [...countries, ...pending.countries.splice(0)] };
      this.downloads.files.restore(back.files);
      this.downloads.countries.restore(back.countries);
      this.log.error({ err: (err as Error).message, pending: back.files.length + back.countries.length }, 'cannot write download statistics; will retry');
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.configWatcher?.stop();
    this.watcher?.stop();
    this.stopScan.abort();
    await Promise.all(this.loops.map((l) => l.stop()));
    await this.prober.stop();
    await this.hasher.stop();
    await this.scanning?.catch(() => undefined);
    this.flush();
    await this.sharing?.close();
    this.db.close();
  }

  /** A download handed to a mirror, or to _local/_fallback: counted, and added to the mirror's load. */
  count(target: Mirror | typeof LOCAL | typeof FALLBACK, bytes: number, nowMs = this.now): void {
    if (typeof target === 'string') {
      if (this.config.counters.enabled) this.counters.add(target, bytes, nowMs);
      return;
    }
    if (this.config.counters.enabled) this.counters.add(target.name, bytes, nowMs);
    this.states.recordSent(target, bytes, nowMs);
  }

  /** A GET answered with a redirect or the file: counted for its path and the client's country. */
  countDownload(path: string, clientAddress: string, bytes: number, nowMs = this.now): void {
    if (this.config.counters.enabled) this.downloads.add(path, this.locality.locate(clientAddress).country, bytes, nowMs);
  }

  /**
   * Health and evidence from SQLite: at start (a restart does not forget that a mirror is down), and in a
   * worker every PROBE_SYNC_MS (the primary's prober writes them).
   */
  private syncProbeState(): void {
    for (const row of this.probeStore.healthRows()) {
      const state = this.states.get(row.mirror);
      const unchanged = state.health.checkedAt === row.checked_at && state.health.state === row.state;
      if (!unchanged) {
        state.health = {
          state: row.state, reason: row.reason, since: row.since, checkedAt: row.checked_at,
          failures: row.state === 'down' ? this.config.probe.failuresToDown : 0, successes: 0, latencyMs: row.latency_ms ?? undefined,
        };
      }
      state.syncStamp = row.sync_stamp ?? undefined;
      if (this.role === 'worker') state.sharedCapacityMbps = row.capacity_mbps ?? undefined;
    }
    for (const { mirror, path, evidence } of this.probeStore.evidenceSince(this.evidenceWatermark)) {
      this.states.get(mirror).evidence.set(path, evidence);
      if (evidence.checkedAt > this.evidenceWatermark) this.evidenceWatermark = evidence.checkedAt;
    }
  }

  private startLoops(): void {
    const onError = (what: string) => (err: unknown) => this.log.error({ err: (err as Error).message }, `${what} failed`);
    const loop = (ms: () => number, work: () => unknown, what: string) => this.loops.push(new Loop(ms, work, onError(what)).start());
    loop(() => DB_CHECK_MS, () => this.checkDatabase(), 'database check');
    loop(() => this.config.counters.flushIntervalMs, () => this.flushCounters(), 'counter flush');
    loop(() => this.config.counters.downloadsFlushIntervalMs, () => this.flushDownloads(), 'download statistics flush');
    loop(() => CATALOG_POLL_MS, () => {
      if (this.catalog.follow()) this.log.debug({ files: this.catalog.size }, 'catalog follows changes written elsewhere');
      this.catalog.retryPersist();
    }, 'catalog poll');
    loop(() => GEO_REFRESH_MS, () => this.locality.refresh(), 'geoip refresh');
    const sharing = this.sharing;
    if (sharing !== undefined) {
      // At once, then every second: leases, load and the stored health from the first moment.
      void sharing.tick();
      loop(() => TICK_MS, () => sharing.tick(), 'cluster sync');
    }
    if (this.role === 'worker') {
      loop(() => PROBE_SYNC_MS, () => this.syncProbeState(), 'probe state sync');
      return;
    }
    loop(() => PRUNE_INTERVAL_MS, () => this.store.prune(this.config.counters, this.now) + this.downloadStore.prune(this.config.counters, this.now), 'counter prune');
    loop(() => PROBE_TICK_MS, () => this.prober.tick(), 'probe tick');
    loop(() => this.config.catalog.rescanSeconds * 1000, () => this.rescan().catch(() => undefined), 'rescan');
  }
}
