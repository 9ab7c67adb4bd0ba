// The background prober: health rounds per mirror (HEAD of a probe file, the sync timestamp, now and
// then a throughput sample) and per-file content checks asked for by the redirect path: queued ones in
// the background, and urgent ones a first request waits for. One check per mirror and copy at a time,
// shared by everyone who asks; bounded concurrency, a byte budget per mirror, jittered intervals,
// back-off while down, everything cancelled on stop().
import { setMaxListeners } from 'node:events';
import type { Config, Mirror } from '../config/load.js';
import type { Catalog, FileEntry, FileStat } from '../catalog/catalog.js';
import type { LocalCopy, LocalRead } from '../catalog/local-copy.js';
import { sameCopy } from '../catalog/catalog.js';
import { encodePath } from '../catalog/request-path.js';
import type { Log } from '../log.js';
import type { ProbeHttp } from './http-client.js';
import { judgeHealthProbe, nextHealth, nextProbeDelay, type Health, type HealthState } from './health.js';
import { firstDifference, judgeCopy, parseSyncStamp, planCheck, type CheckPlan, type Evidence, type FileRef, type FreshnessRules, type Observation } from './freshness.js';
import { CheckBudget } from './check-budget.js';
import { nextCapacity } from './capacity.js';
import type { MirrorStates } from './mirror-states.js';
import type { ProbeStore } from './store.js';
import { CheckQueue } from './check-queue.js';
import type { HealthRecord, ProbeSharing } from '../sharing/link.js';

const PROBE_FILES_MS = 5 * 60_000;
/** Oldest small and largest files looked at for the probe files: the first that is not volatile is taken. */
const PROBE_CANDIDATES = 50;
const SAMPLE_PLAN_MS = 10 * 60_000;
const SAMPLE_PLANS_KEPT = 2000;
/**
 * How long a claimed check is another instance's (and how long this one waits for its evidence): its
 * requests' timeouts and then some, for a busy host. A claimant that dies delays the check this long.
 */
const CLAIM_WAIT_BASE_MS = 5000;
/** How long probing rests after a local resource error (EMFILE and the like). */
export const PAUSE_MS = 5000;

export interface ProberDeps {
  readonly config: () => Config;
  readonly catalog: Catalog;
  readonly states: MirrorStates;
  readonly store: ProbeStore;
  readonly http: ProbeHttp;
  readonly log: Log;
  readonly now: () => number;
  readonly random: () => number;
  readonly isVolatile: (path: string) => boolean;
  /** The repository's own copy: hashes and byte ranges to compare with. */
  readonly local: LocalCopy;
  /** The repository's copy of `path` on disk differs from the catalog entry: update the catalog. */
  readonly onLocalChange: (path: string, stat: FileStat | undefined) => void;
  /** With cluster.redis: which mirrors this process probes, and where findings are shared. */
  readonly sharing?: ProbeSharing;
}

export interface ProbeTimings {
  health(mirror: string, seconds: number, ok: boolean): void;
  check(mirror: string, seconds: number, verdict: string): void;
}

export class Prober {
  readonly queue: CheckQueue;
  private readonly abort = new AbortController();
  private readonly running = new Set<Promise<void>>();
  readonly budget: CheckBudget;
  /** Content checks since start, by verdict (for metrics). */
  readonly verdicts = { fresh: 0, stale: 0, missing: 0 };
  /** Told how long each health probe and content check took (the metrics' histograms). */
  timings: ProbeTimings | undefined;
  private healthInFlight = 0;
  private checksInFlight = 0;
  private urgentInFlight = 0;
  /** Checks under way, by mirror, path and copy: everyone asking about the same copy shares one. */
  private readonly checks = new Map<string, Promise<Evidence | undefined>>();
  private readonly freshWaiters = new Map<string, Set<() => void>>();
  /** Transitions whose write failed, retried in order before the next write. */
  private readonly unwritten: (() => void)[] = [];
  /** Failed writes since start, and when the last was logged (logged at most once a minute). */
  persistFailures = 0;
  /** Times probing paused for a local resource error. */
  pauses = 0;
  private pausedUntil = -Infinity;
  private pauseReason = '';
  private pauseLoggedAt = -Infinity;
  private persistLoggedAt = -Infinity;
  private samplePlans = new Map<string, { copy: FileStat; at: number; plan: CheckPlan; ours: Promise<LocalRead<Buffer[]>> }>();
  private probeFiles: { at: number; small: FileEntry | undefined; large: FileEntry | undefined } = { at: -Infinity, small: undefined, large: undefined };

  constructor(private readonly deps: ProberDeps) {
    // Every in-flight probe listens on this one signal; hundreds at once are expected, not a leak.
    setMaxListeners(0, this.abort.signal);
    this.queue = new CheckQueue(() => deps.config().freshness.queueSize, deps.now);
    this.budget = new CheckBudget(() => deps.config().freshness.checkBytesPerHour);
  }

  /** Starts whatever is due; called every few hundred ms by the runtime's loop. */
  tick(): void {
    const config = this.deps.config();
    if (!config.probe.enabled || this.abort.signal.aborted) return;
    const now = this.deps.now();
    if (now < this.pausedUntil) return;
    for (const mirror of config.mirrors) {
      if (this.healthInFlight >= config.probe.concurrency) break;
      if (!mirror.enabled) continue;
      if (this.deps.sharing !== undefined && !this.deps.sharing.probes(mirror.name)) continue;
      const state = this.deps.states.get(mirror.name);
      if (state.probing || now < state.nextProbeAt) continue;
      state.probing = true;
      this.healthInFlight += 1;
      this.track(this.probeMirror(mirror).finally(() => {
        state.probing = false;
        this.healthInFlight -= 1;
      }));
    }
    // Checks that requests wait for go first: the queue waits while any is in flight.
    while (this.urgentInFlight === 0 && this.checksInFlight < config.freshness.concurrency) {
      const next = this.queue.take();
      if (next === undefined) break;
      this.checksInFlight += 1;
      this.track(this.checkFile(next.mirror, next.path).finally(() => {
        this.checksInFlight -= 1;
      }));
    }
  }

  /**
   * A probe failed for a reason of our own (out of file descriptors, ports or buffers): no mirror is
   * judged on it. Probing and checks stop for PAUSE_MS, and the log says why (at most once a minute).
   */
  private pause(reason: string): void {
    const now = this.deps.now();
    this.pausedUntil = now + PAUSE_MS;
    this.pauses += 1;
    this.pauseReason = reason;
    if (now - this.pauseLoggedAt >= 60_000) {
      this.pauseLoggedAt = now;
      this.deps.log.error({ reason, pauses: this.pauses },
        `probing paused: ${reason} is a shortage on this host, not a mirror failure (raise LimitNOFILE or lower http.maxConnections)`);
    }
  }

  /** Why probing is paused now, or undefined. */
  get pausedBecause(): string | undefined {
    return this.deps.now() < this.pausedUntil ? this.pauseReason : undefined;
  }

  /** Content checks in flight (queued and urgent). */
  get checksRunning(): number {
    return this.checks.size;
  }

  /** Cancels in-flight probes and waits for them to settle. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled([...this.running]);
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch((err: unknown) => this.deps.log.error({ err: (err as Error).message }, 'probe failed unexpectedly'))
      .finally(() => this.running.delete(tracked));
    this.running.add(tracked);
  }

  private async probeMirror(mirror: Mirror): Promise<void> {
    const { config: getConfig, states, http, now, store, log } = this.deps;
    const config = getConfig();
    const state = states.get(mirror.name);
    const signal = this.abort.signal;
    const target = this.healthTarget(mirror);
    state.rounds += 1;
    if (target === undefined) {
      state.nextProbeAt = now() + config.probe.intervalSeconds * 1000;
      return;
    }
    const started = performance.now();
    const result = await http.head(mirror.url + encodePath(target.path), config.probe.timeoutMs, signal);
    if (signal.aborted) return;
    if (result.ok || result.kind !== 'local') this.timings?.health(mirror.name, (performance.now() - started) / 1000, result.ok);
    if (!result.ok && result.kind === 'local') {
      this.pause(result.message);
      state.nextProbeAt = this.pausedUntil;
      return;
    }
    const before = state.health;
    state.health = nextHealth(before, judgeHealthProbe(result, target.size ?? (result.ok ? result.contentLength ?? 0 : 0)), config.probe, now());
    if (state.health.state !== before.state) {
      this.transition(mirror.name, before.state, state.health, false);
    } else {
      log.debug({ mirror: mirror.name, state: state.health.state, reason: state.health.reason, latencyMs: state.health.latencyMs }, 'probe');
    }
    if (mirror.timestampFile !== undefined && state.health.state !== 'down') {
      const text = await http.getText(mirror.url + encodePath(mirror.timestampFile), config.probe.timeoutMs, signal);
      const stamp = text === undefined ? undefined : parseSyncStamp(text);
      if (stamp !== undefined) state.syncStamp = stamp;
    }
    const every = config.probe.capacityEveryRounds;
    if (every > 0 && state.health.state !== 'down' && (state.rounds - 1) % every === 0) await this.probeCapacity(mirror);
    if (signal.aborted) return;
    // Scheduled before anything is written: a failing disk must never make the prober hammer a mirror.
    state.nextProbeAt = now() + nextProbeDelay(state.health, config.probe.intervalSeconds * 1000, config.probe.maxBackoffSeconds * 1000, this.deps.random);
    const capacityMbps = states.effectiveMbps(mirror, state);
    this.persist(() => store.saveHealth(mirror.name, state.health, capacityMbps, state.syncStamp), false);
    this.deps.sharing?.publishHealth(mirror.name, { health: state.health, syncStamp: state.syncStamp, capacityMbps });
  }

  /** A change of state, found here or adopted from another instance (`shared`): logged and stored. */
  private transition(mirror: string, from: HealthState, to: Health, shared: boolean): void {
    const level = to.state === 'down' ? 'warn' : 'info';
    this.deps.log[level]({ mirror, from, to: to.state, reason: to.reason, ...(shared ? { shared } : {}) }, `mirror ${to.state}`);
    this.persist(() => this.deps.store.saveTransition(mirror, from, to), true);
  }

  /**
   * Another instance's health round of a mirror it holds the lease of: kept like one of ours (memory,
   * transition log, SQLite for workers and restarts). This process probes it again only when it holds
   * the lease or Redis goes away, and then not before an interval has passed since.
   */
  adoptHealth(name: string, record: HealthRecord): void {
    const { config: getConfig, states, store, now } = this.deps;
    const config = getConfig();
    const mirror = config.mirrors.find((m) => m.name === name);
    if (mirror === undefined) return;
    const state = states.get(name);
    if (record.health.checkedAt <= state.health.checkedAt) return;
    const before = state.health;
    state.health = record.health;
    if (record.syncStamp !== undefined) state.syncStamp = record.syncStamp;
    state.sharedCapacityMbps = record.capacityMbps;
    state.nextProbeAt = Math.max(state.nextProbeAt, now() + config.probe.intervalSeconds * 1000);
    if (record.health.state !== before.state) this.transition(name, before.state, record.health, true);
    this.persist(() => store.saveHealth(name, record.health, record.capacityMbps, state.syncStamp), false);
  }

  /**
   * Another instance's content check: kept when it is about the copy this host has and newer than what
   * this process knows. Hosts' copies agree on size and mtime (rsync keeps both) but each has its own
   * ctime, so the evidence is restamped with ours; evidence about another copy is not ours to use.
   */
  adoptEvidence(name: string, path: string, remote: Evidence): void {
    if (!this.deps.config().mirrors.some((m) => m.name === name)) return;
    const file = this.deps.catalog.lookup(path);
    if (file === undefined || file.size !== remote.size || file.mtimeMs !== remote.mtimeMs) return;
    const evidence: Evidence = { ...remote, ctimeMs: file.ctimeMs };
    const state = this.deps.states.get(name);
    const known = state.evidence.get(path);
    if (known !== undefined && known.ctimeMs === file.ctimeMs && known.checkedAt >= evidence.checkedAt) return;
    state.evidence.set(path, evidence);
    if (evidence.status === 'fresh') this.notifyFresh(path);
    this.persist(() => this.deps.store.saveEvidence(name, path, evidence), false);
  }

  /**
   * Writes what the prober learnt; a failure is logged at most once a minute and never stops probing.
   * Health rows are rewritten every round (the next one retries); transitions, which are not, are kept
   * (up to 1,000) and written before the next write that succeeds.
   */
  private persist(write: () => void, keepOnFailure: boolean): void {
    try {
      while (this.unwritten.length > 0) {
        (this.unwritten[0] as () => void)();
        this.unwritten.shift();
      }
      write();
    } catch (err) {
      if (keepOnFailure && this.unwritten.length < 1000) this.unwritten.push(write);
      this.persistFailures += 1;
      const now = this.deps.now();
      if (now - this.persistLoggedAt >= 60_000) {
        this.persistLoggedAt = now;
        this.deps.log.error({ err: (err as Error).message, failures: this.persistFailures, pending: this.unwritten.length },
          'cannot write probe results to the database; probing goes on, writes are retried');
      }
    }
  }

  private async probeCapacity(mirror: Mirror): Promise<void> {
    const config = this.deps.config();
    const large = this.pickProbeFiles().large;
    if (large === undefined) return;
    const bytes = Math.min(config.probe.capacityBytes, large.size);
    const r = await this.deps.http.getRange(mirror.url + encodePath(large.path), bytes, config.probe.timeoutMs, this.abort.signal);
    if (this.abort.signal.aborted) return;
    if (!r.ok && r.kind === 'local') return this.pause(r.message);
    const state = this.deps.states.get(mirror.name);
    const sample = r.ok && r.bytes > 0
      ? { ok: true as const, bytesPerSecond: r.bytes / Math.max(r.transferMs, 1) * 1000, ttfbMs: r.ttfbMs }
      : { ok: false as const };
    state.capacity = nextCapacity(state.capacity, sample);
    this.deps.log.debug({ mirror: mirror.name, sample, factor: state.capacity.factor }, 'throughput probe');
  }

  private async checkFile(mirrorName: string, path: string): Promise<void> {
    const mirror = this.deps.config().mirrors.find((m) => m.name === mirrorName);
    const file = this.deps.catalog.lookup(path);
    if (mirror === undefined || file === undefined) return;
    // Asked for while nothing was known; a check a request waited for may have answered since.
    if (!this.deps.states.needsCheck(mirror, file, this.deps.isVolatile(file.path))) return;
    await this.check(mirror, file);
  }

  /**
   * A check a request waits for: shared with any check of the same copy under way, and refused (undefined
   * at once) when `urgentChecks` are already in flight.
   */
  urgent(mirror: Mirror, file: FileRef): Promise<Evidence | undefined> {
    const config = this.deps.config();
    if (!config.probe.enabled || this.abort.signal.aborted) return Promise.resolve(undefined);
    const running = this.checks.get(checkKey(mirror.name, file));
    if (running !== undefined) return running;
    if (this.urgentInFlight >= config.freshness.urgentChecks) return Promise.resolve(undefined);
    this.urgentInFlight += 1;
    const p = this.check(mirror, file).finally(() => {
      this.urgentInFlight -= 1;
    });
    this.track(p.then(() => undefined));
    return p;
  }

  /**
   * Resolves when any mirror is found fresh for `path` (by any check, queued or urgent); `cancel` drops
   * the wait. Lets a request whose own candidates could not be checked (the bound) wait for others'.
   */
  whenFresh(path: string): { readonly fresh: Promise<void>; cancel(): void } {
    let waiters = this.freshWaiters.get(path);
    if (waiters === undefined) {
      waiters = new Set();
      this.freshWaiters.set(path, waiters);
    }
    const set = waiters;
    let wake = () => {};
    const fresh = new Promise<void>((resolve) => { wake = resolve; });
    set.add(wake);
    return {
      fresh,
      cancel: () => {
        set.delete(wake);
        if (set.size === 0 && this.freshWaiters.get(path) === set) this.freshWaiters.delete(path);
      },
    };
  }

  private notifyFresh(path: string): void {
    const waiters = this.freshWaiters.get(path);
    if (waiters === undefined) return;
    this.freshWaiters.delete(path);
    for (const wake of waiters) wake();
  }

  /** Checks whether `mirror` holds the repository's copy of `file`, records the evidence and returns it. */
  private check(mirror: Mirror, file: FileRef): Promise<Evidence | undefined> {
    const key = checkKey(mirror.name, file);
    let running = this.checks.get(key);
    if (running === undefined) {
      running = this.runCheck(mirror, file).finally(() => this.checks.delete(key));
      this.checks.set(key, running);
    }
    return running;
  }

  private async runCheck(mirror: Mirror, file: FileRef): Promise<Evidence | undefined> {
    const state = this.deps.states.get(mirror.name);
    if (state.health.state === 'down') return undefined;
    if (this.deps.sharing !== undefined) {
      // Another instance checking the same copy: its evidence, once it has it.
      const claim = await this.deps.sharing.claimCheck(mirror.name, file, CLAIM_WAIT_BASE_MS + this.deps.config().probe.timeoutMs * 4);
      // The claimant's evidence, adopted by the link (restamped for our copy; refused when it is about
      // another copy) from its news or from its claim, where it is stored when the news came before this
      // host knew the file; also when the wait missed its wake-up (the news landed between claim and wait).
      if (claim !== 'mine') {
        const known = this.deps.states.get(mirror.name).evidence.get(file.path);
        return known !== undefined && sameCopy(known, file) ? known : undefined;
      }
    }
    const started = performance.now();
    const seen = await this.observe(mirror, file);
    if (seen === undefined || this.abort.signal.aborted) return undefined;
    const volatile = this.deps.isVolatile(file.path) ? { lastModifiedSeconds: this.deps.catalog.lastModifiedSeconds(file) } : undefined;
    const evidence = judgeCopy(seen, file, this.deps.now(), volatile);
    if (evidence === undefined) return undefined;
    state.evidence.set(file.path, evidence);
    this.verdicts[evidence.status] += 1;
    this.timings?.check(mirror.name, (performance.now() - started) / 1000, evidence.status);
    if (evidence.status === 'fresh') this.notifyFresh(file.path);
    // Memory has it, and selection reads memory; workers and a restart learn it once a write succeeds.
    this.persist(() => this.deps.store.saveEvidence(mirror.name, file.path, evidence), false);
    this.deps.sharing?.publishEvidence(mirror.name, file.path, evidence);
    if (evidence.status !== 'fresh') {
      this.deps.log.info({ mirror: mirror.name, path: file.path, status: evidence.status, detail: evidence.detail }, 'mirror lacks the current file');
    }
    return evidence;
  }

  /** A failed fetch: no verdict for an HTTP oddity or a shortage of ours (which pauses probing), else unreachable. */
  private failed(r: { kind: string; message: string }): Observation | undefined {
    if (r.kind === 'local') this.pause(r.message);
    return r.kind === 'http' || r.kind === 'local' ? undefined : { ok: false };
  }

  /** Fetches what the check's plan needs from the mirror and from our copy; undefined = no verdict now. */
  private async observe(mirror: Mirror, file: FileRef): Promise<Observation | undefined> {
    const { config: getConfig, http, local, now } = this.deps;
    const config = getConfig();
    const { plan, ours: oursRead } = this.planFor(file);
    const cost = plan.method === 'sha256' ? file.size : plan.ranges.reduce((sum, r) => sum + r.length, 0);
    if (!this.budget.take(mirror.name, cost, now())) return undefined;
    const url = mirror.url + encodePath(file.path);
    const { timeoutMs } = config.probe;
    const signal = this.abort.signal;
    if (plan.method === 'sha256') {
      const ours = await local.sha256(file);
      if (!ours.ok) return this.localChanged(file, ours.changed);
      const r = await http.getDigest(url, file.size, timeoutMs, signal);
      if (!r.ok) return this.failed(r);
      if (r.status !== 200) return { ok: true, status: r.status, size: undefined, lastModified: r.lastModified };
      return { ok: true, status: 200, size: r.bytes, lastModified: r.lastModified, content: { method: 'sha256', matches: r.sha256 === ours.value } };
    }
    // Our bytes and every range of theirs at once: one round trip, which is what a waiting first request pays.
    const [ours, answers] = await Promise.all([
      oursRead ?? local.ranges(file, plan.ranges),
      Promise.all(plan.ranges.map((r) => http.getBytes(url, r.offset, r.length, timeoutMs, signal))),
    ]);
    if (!ours.ok) return this.localChanged(file, ours.changed);
    const first = answers[0];
    if (first === undefined) return undefined;
    if (!first.ok) return this.failed(first);
    const base = { ok: true as const, status: first.status, size: first.totalSize, lastModified: first.lastModified };
    if (first.status !== 206 && first.status !== 200) return base;
    if (first.status === 200) return { ...base, content: { method: 'none', why: 'the mirror ignores Range requests' } };
    if (first.totalSize !== file.size) return base;
    let mismatchAt: number | undefined;
    for (let i = 0; i < answers.length; i++) {
      const answer = answers[i];
      const range = plan.ranges[i];
      if (answer === undefined || range === undefined) continue;
      if (!answer.ok) return this.failed(answer);
      if (answer.status !== 206 || answer.offset !== range.offset) return undefined;
      const at = firstDifference(ours.value[i] as Buffer, answer.body, range.offset);
      if (at !== undefined && (mismatchAt === undefined || at < mismatchAt)) mismatchAt = at;
    }
    return { ...base, content: { method: 'samples', ranges: answers.length, mismatchAt } };
  }

  /**
   * What to fetch for a check of this copy. A large file's sampled ranges (and our bytes there, read
   * once) are shared by every mirror's check for SAMPLE_PLAN_MS: a burst of first requests reads our
   * copy once, not once per mirror; later rounds draw new offsets.
   */
  private planFor(file: FileRef): { plan: CheckPlan; ours?: Promise<LocalRead<Buffer[]>> } {
    const config = this.deps.config();
    const rules: FreshnessRules = { ...config.freshness, volatileMaxAgeSeconds: config.volatileMaxAgeSeconds };
    const now = this.deps.now();
    const kept = this.samplePlans.get(file.path);
    if (kept !== undefined && sameCopy(kept.copy, file) && now - kept.at < SAMPLE_PLAN_MS) return kept;
    const plan = planCheck(file, this.deps.isVolatile(file.path), rules, this.deps.random);
    if (plan.method === 'sha256') return { plan };
    if (this.samplePlans.size >= SAMPLE_PLANS_KEPT) this.samplePlans = new Map();
    const entry = { copy: { size: file.size, mtimeMs: file.mtimeMs, ctimeMs: file.ctimeMs }, at: now, plan, ours: this.deps.local.ranges(file, plan.ranges) };
    this.samplePlans.set(file.path, entry);
    return entry;
  }

  /** Our copy is not the one the catalog names: the catalog learns it first, and this check has no verdict. */
  private localChanged(file: FileRef, stat: FileStat | undefined): undefined {
    this.deps.onLocalChange(file.path, stat);
    return undefined;
  }

  /** What a health probe HEADs: the mirror's probePath, else an old small file every mirror has had time to sync. */
  private healthTarget(mirror: Mirror): { path: string; size: number | undefined } | undefined {
    if (mirror.probePath !== undefined) return { path: mirror.probePath, size: this.deps.catalog.lookup(mirror.probePath)?.size };
    return this.pickProbeFiles().small;
  }

  private pickProbeFiles(): { small: FileEntry | undefined; large: FileEntry | undefined } {
    const { catalog, isVolatile } = this.deps;
    // Two passes over the table are not for every change the watcher brings: the picks stay while they
    // are still in the catalog as they were, and are looked for afresh every few minutes.
    const still = (f: FileEntry | undefined) => f === undefined || catalog.lookup(f.path)?.ctimeMs === f.ctimeMs;
    const { small: s0, large: l0, at } = this.probeFiles;
    if (this.deps.now() - at < PROBE_FILES_MS && (s0 !== undefined || catalog.size === 0) && still(s0) && still(l0)) return this.probeFiles;
    this.probeFiles = { at: this.deps.now(), ...catalog.probeCandidates(PROBE_CANDIDATES, isVolatile) };
    return this.probeFiles;
  }
}

function checkKey(mirror: string, file: FileRef): string {
  return `${mirror}\n${file.path}\n${file.size}:${file.mtimeMs}:${file.ctimeMs}`;
}
