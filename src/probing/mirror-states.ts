// What mirrorgate knows about each mirror right now: health, sync stamp, capacity estimate, per-file
// evidence and the bytes recently sent to it. Keyed by mirror name, so it survives config reloads.
// The redirect path reads it through unavailable() and utilisation(): Map lookups, no I/O.
import { EvidenceMap } from './evidence-map.js';
import type { Config, Mirror } from '../config/load.js';
import { SlidingWindow } from '../counters/window.js';
import { initialHealth, type Health } from './health.js';
import { fileVerdict, type Evidence, type FileRef, type FreshnessRules } from './freshness.js';
import { effectiveMbps, INITIAL_CAPACITY, type CapacityEstimate } from './capacity.js';
import type { ExclusionReason } from '../selection/reasons.js';
import type { SelectionState } from '../selection/select.js';

export interface MirrorState {
  health: Health;
  syncStamp: number | undefined;
  capacity: CapacityEstimate;
  readonly evidence: EvidenceMap;
  load: SlidingWindow;
  nextProbeAt: number;
  rounds: number;
  probing: boolean;
  /** In a worker: the effective capacity the primary's prober computed; with cluster.redis, the lease holder's. */
  sharedCapacityMbps: number | undefined;
  /** With cluster.redis: bytes the other processes redirected here over the window (src/sharing/link.ts). */
  othersLoad: number;
}

export class MirrorStates implements SelectionState {
  private readonly states = new Map<string, MirrorState>();
  /** The states of the current config's mirrors by index: the hot path's way in, no name hashing. */
  private slots: MirrorState[] = [];
  private slotsFor: readonly Mirror[] | undefined;
  private rules: FreshnessRules | undefined;
  private rulesFor: Config | undefined;
  /**
   * With cluster.redis and Redis answering: every process's bytes are known (othersLoad), so this
   * process's own are not scaled up by the worker count.
   */
  sharedLoad = false;

  constructor(
    private readonly config: () => Config,
    private readonly now: () => number,
    /** Asks for a background check of (mirror, path, copy stamp); deduplicated and bounded by the receiver. */
    private readonly requestCheck: (mirror: string, path: string, stamp: number) => void,
    /**
     * Processes sharing the traffic. Each worker sees only what it redirected itself; the kernel spreads
     * connections about evenly, so its own bytes times the worker count estimate the mirror's load.
     */
    private readonly loadScale = 1,
  ) {}

  get(name: string): MirrorState {
    let state = this.states.get(name);
    if (state === undefined) {
      state = {
        health: initialHealth(this.now()),
        syncStamp: undefined,
        capacity: INITIAL_CAPACITY,
        evidence: new EvidenceMap(),
        load: new SlidingWindow(this.config().capacity.windowSeconds),
        nextProbeAt: 0,
        rounds: 0,
        probing: false,
        sharedCapacityMbps: undefined,
        othersLoad: 0,
      };
      this.states.set(name, state);
    }
    return state;
  }

  /** The state of a mirror of the current config (hot path). */
  of(mirror: Mirror): MirrorState {
    const mirrors = this.config().mirrors;
    if (mirrors !== this.slotsFor) {
      this.slots = mirrors.map((m) => this.get(m.name));
      this.slotsFor = mirrors;
    }
    return this.slots[mirror.index] ?? this.get(mirror.name);
  }

  /** Hot path: a redirect to `mirror` of `bytes`. */
  recordSent(mirror: Mirror, bytes: number, nowMs = this.now()): void {
    const state = this.of(mirror);
    const seconds = this.config().capacity.windowSeconds;
    if (state.load.seconds !== seconds) state.load = new SlidingWindow(seconds);
    state.load.add(bytes, nowMs);
  }

  /** Hot path: why `mirror` cannot serve `file` now, queueing a check when evidence is missing or due. */
  unavailable(mirror: Mirror, file: FileRef, volatile: boolean, nowMs = this.now()): ExclusionReason | undefined {
    return this.verdictOf(mirror, file, volatile, nowMs, true);
  }

  /**
   * The same view with 'unverified' mirrors counted as available, and those found missing or stale more
   * than firstRequestRecheckSeconds ago (they may have synced since), with no checks asked for: selection
   * over it orders the mirrors a first request should have checked (runtime/first-request.ts).
   */
  readonly hopeful: SelectionState = {
    unavailable: (mirror, file, volatile, nowMs) => {
      const now = nowMs ?? this.now();
      const reason = this.verdictOf(mirror, file as FileRef, volatile, now, false);
      if (reason === 'unverified') return undefined;
      if (reason === 'missing' || reason === 'stale') {
        const checkedAt = this.of(mirror).evidence.get(file.path)?.checkedAt ?? now;
        if (now - checkedAt >= this.config().freshness.firstRequestRecheckSeconds * 1000) return undefined;
      }
      return reason;
    },
    utilisation: (mirror, nowMs) => this.utilisation(mirror, nowMs),
  };

  /**
   * The same verdicts as unavailable(), asking for no check: what is known now. The Link alternates of a
   * redirect are ranked over it, so naming three more mirrors never asks three more mirrors for checks.
   */
  readonly passive: SelectionState = {
    unavailable: (mirror, file, volatile, nowMs) => this.verdictOf(mirror, file as FileRef, volatile, nowMs ?? this.now(), false),
    utilisation: (mirror, nowMs) => this.utilisation(mirror, nowMs),
  };

  /** Whether evidence about `mirror`'s copy of `file` is missing or due (a queued check may be moot by now). */
  needsCheck(mirror: Mirror, file: FileRef, volatile: boolean, nowMs = this.now()): boolean {
    const state = this.of(mirror);
    const evidence = state.evidence.get(file.path);
    return fileVerdict(evidence, state.syncStamp, file, volatile, this.rulesNow(), nowMs).recheck;
  }

  private rulesNow(): FreshnessRules {
    const config = this.config();
    if (config !== this.rulesFor) {
      this.rules = { ...config.freshness, volatileMaxAgeSeconds: config.volatileMaxAgeSeconds };
      this.rulesFor = config;
    }
    return this.rules as FreshnessRules;
  }

  private verdictOf(mirror: Mirror, file: FileRef, volatile: boolean, nowMs: number, askForChecks: boolean): ExclusionReason | undefined {
    const config = this.config();
    if (!config.probe.enabled) return undefined;
    const state = this.of(mirror);
    if (state.health.state === 'down') return 'down';
    const evidence = state.evidence.size === 0 ? undefined : state.evidence.get(file.path);
    const verdict = fileVerdict(evidence, state.syncStamp, file, volatile, this.rulesNow(), nowMs);
    if (verdict.recheck && askForChecks) this.requestCheck(mirror.name, file.path, file.ctimeMs);
    return verdict.ok ? undefined : verdict.reason;
  }

  /** Bytes sent over the window ÷ what the effective capacity moves in that window. */
  utilisation(mirror: Mirror, nowMs = this.now()): number {
    const state = this.of(mirror);
    const sent = this.sharedLoad ? state.load.total(nowMs) + state.othersLoad : state.load.total(nowMs) * this.loadScale;
    if (sent === 0) return 0;
    const capacity = this.effectiveMbps(mirror, state);
    return (sent * 8) / (capacity * 1e6 * state.load.seconds);
  }

  effectiveMbps(mirror: Mirror, state = this.get(mirror.name)): number {
    const config = this.config();
    if (!config.probe.enabled) return mirror.bandwidthMbps;
    if (state.sharedCapacityMbps !== undefined) return state.sharedCapacityMbps;
    return effectiveMbps(mirror.bandwidthMbps, state.capacity, config.capacity.floor, state.health.failures);
  }
}
