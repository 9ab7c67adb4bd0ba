// The background prober: health rounds per mirror (HEAD of a probe file, the sync timestamp, now and
// then a throughput sample) and per-file freshness checks asked for by the redirect path. Bounded
// concurrency, jittered intervals, back-off while down, everything cancelled on stop().
import { setMaxListeners } from 'node:events';
import type { Config, Mirror } from '../config/load.js';
import type { Catalog, FileEntry } from '../catalog/catalog.js';
import { encodePath } from '../catalog/request-path.js';
import type { Log } from '../log.js';
import type { ProbeHttp } from './http-client.js';
import { judgeHealthProbe, nextHealth, nextProbeDelay } from './health.js';
import { judgeFile, parseSyncStamp } from './freshness.js';
import { nextCapacity } from './capacity.js';
import type { MirrorStates } from './mirror-states.js';
import type { ProbeStore } from './store.js';
import { CheckQueue } from './check-queue.js';

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
}

export class Prober {
  readonly queue: CheckQueue;
  private readonly abort = new AbortController();
  private readonly running = new Set<Promise<void>>();
  private healthInFlight = 0;
  private checksInFlight = 0;
  private probeFiles: { generation: number; small: FileEntry | undefined; large: FileEntry | undefined } = { generation: -1, small: undefined, large: undefined };

  constructor(private readonly deps: ProberDeps) {
    // Every in-flight probe listens on this one signal; hundreds at once are expected, not a leak.
    setMaxListeners(0, this.abort.signal);
    this.queue = new CheckQueue(() => deps.config().freshness.queueSize, deps.now);
  }

  /** Starts whatever is due; called every few hundred ms by the runtime's loop. */
  tick(): void {
    const config = this.deps.config();
    if (!config.probe.enabled || this.abort.signal.aborted) return;
    const now = this.deps.now();
    for (const mirror of config.mirrors) {
      if (this.healthInFlight >= config.probe.concurrency) break;
      if (!mirror.enabled) continue;
      const state = this.deps.states.get(mirror.name);
      if (state.probing || now < state.nextProbeAt) continue;
      state.probing = true;
      this.healthInFlight += 1;
      this.track(this.probeMirror(mirror).finally(() => {
        state.probing = false;
        this.healthInFlight -= 1;
      }));
    }
    while (this.checksInFlight < config.freshness.concurrency) {
      const next = this.queue.take();
      if (next === undefined) break;
      this.checksInFlight += 1;
      this.track(this.checkFile(next.mirror, next.path).finally(() => {
        this.checksInFlight -= 1;
      }));
    }
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
    const result = await http.head(mirror.url + encodePath(target.path), config.probe.timeoutMs, signal);
    if (signal.aborted) return;
    const before = state.health;
    state.health = nextHealth(before, judgeHealthProbe(result, target.size ?? (result.ok ? result.contentLength ?? 0 : 0)), config.probe, now());
    if (state.health.state !== before.state) {
      const level = state.health.state === 'down' ? 'warn' : 'info';
      log[level]({ mirror: mirror.name, from: before.state, to: state.health.state, reason: state.health.reason }, `mirror ${state.health.state}`);
      store.saveTransition(mirror.name, before.state, state.health);
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
    store.saveHealth(mirror.name, state.health, states.effectiveMbps(mirror, state), state.syncStamp);
    state.nextProbeAt = now() + nextProbeDelay(state.health, config.probe.intervalSeconds * 1000, config.probe.maxBackoffSeconds * 1000, this.deps.random);
  }

  private async probeCapacity(mirror: Mirror): Promise<void> {
    const config = this.deps.config();
    const large = this.pickProbeFiles().large;
    if (large === undefined) return;
    const bytes = Math.min(config.probe.capacityBytes, large.size);
    const r = await this.deps.http.getRange(mirror.url + encodePath(large.path), bytes, config.probe.timeoutMs, this.abort.signal);
    if (this.abort.signal.aborted) return;
    const state = this.deps.states.get(mirror.name);
    const sample = r.ok && r.bytes > 0
      ? { ok: true as const, bytesPerSecond: r.bytes / Math.max(r.transferMs, 1) * 1000, ttfbMs: r.ttfbMs }
      : { ok: false as const };
    state.capacity = nextCapacity(state.capacity, sample);
    this.deps.log.debug({ mirror: mirror.name, sample, factor: state.capacity.factor }, 'throughput probe');
  }

  private async checkFile(mirrorName: string, path: string): Promise<void> {
    const config = this.deps.config();
    const mirror = config.mirrors.find((m) => m.name === mirrorName);
    const file = this.deps.catalog.lookup(path);
    if (mirror === undefined || file === undefined) return;
    const state = this.deps.states.get(mirror.name);
    if (state.health.state === 'down') return;
    const result = await this.deps.http.head(mirror.url + encodePath(path), config.probe.timeoutMs, this.abort.signal);
    if (this.abort.signal.aborted) return;
    const evidence = judgeFile(result, file, this.deps.now());
    if (evidence === undefined) return;
    state.evidence.set(path, evidence);
    this.deps.store.saveEvidence(mirror.name, path, evidence);
    if (evidence.status !== 'fresh') this.deps.log.info({ mirror: mirror.name, path, status: evidence.status, detail: evidence.detail }, 'mirror lacks the current file');
  }

  /** What a health probe HEADs: the mirror's probePath, else an old small file every mirror has had time to sync. */
  private healthTarget(mirror: Mirror): { path: string; size: number | undefined } | undefined {
    if (mirror.probePath !== undefined) return { path: mirror.probePath, size: this.deps.catalog.lookup(mirror.probePath)?.size };
    return this.pickProbeFiles().small;
  }

  private pickProbeFiles(): { small: FileEntry | undefined; large: FileEntry | undefined } {
    const { catalog, isVolatile } = this.deps;
    if (this.probeFiles.generation === catalog.generation) return this.probeFiles;
    let small: FileEntry | undefined;
    let large: FileEntry | undefined;
    for (const f of catalog.entries()) {
      if (f.size === 0 || isVolatile(f.path)) continue;
      if (f.size <= 1024 * 1024 && (small === undefined || f.mtimeMs < small.mtimeMs || (f.mtimeMs === small.mtimeMs && f.path < small.path))) small = f;
      if (large === undefined || f.size > large.size) large = f;
    }
    this.probeFiles = { generation: catalog.generation, small: small ?? large, large };
    return this.probeFiles;
  }
}
