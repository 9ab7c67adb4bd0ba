// What mirrorgate knows about each mirror right now: health, sync stamp, capacity estimate, per-file
// evidence and the bytes recently sent to it. Keyed by mirror name, so it survives config reloads.
// The redirect path reads it through unavailable() and utilisation(): Map lookups, no I/O.
import type { Config, Mirror } from '../config/load.js';
import { SlidingWindow } from '../counters/window.js';
import { initialHealth, type Health } from './health.js';
import { fileVerdict, type Evidence, type FileRef } from './freshness.js';
import { effectiveMbps, INITIAL_CAPACITY, type CapacityEstimate } from './capacity.js';
import type { ExclusionReason } from '../selection/reasons.js';
import type { SelectionState } from '../selection/select.js';

export interface MirrorState {
  health: Health;
  syncStamp: number | undefined;
  capacity: CapacityEstimate;
  readonly evidence: Map<string, Evidence>;
  load: SlidingWindow;
  nextProbeAt: number;
  rounds: number;
  probing: boolean;
  /** In a worker: the effective capacity the primary's prober computed. */
  sharedCapacityMbps: number | undefined;
}

export class MirrorStates implements SelectionState {
  private readonly states = new Map<string, MirrorState>();

  constructor(
    private readonly config: () => Config,
    private readonly now: () => number,
    /** Asks for a background check of (mirror, path); deduplicated and bounded by the receiver. */
    private readonly requestCheck: (mirror: string, path: string, mtimeMs: number) => void,
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
        evidence: new Map(),
        load: new SlidingWindow(this.config().capacity.windowSeconds),
        nextProbeAt: 0,
        rounds: 0,
        probing: false,
        sharedCapacityMbps: undefined,
      };
      this.states.set(name, state);
    }
    return state;
  }

  names(): IterableIterator<string> {
    return this.states.keys();
  }

  /** Hot path: a redirect to `name` of `bytes`. */
  recordSent(name: string, bytes: number): void {
    const state = this.get(name);
    if (state.load.seconds !== this.config().capacity.windowSeconds) state.load = new SlidingWindow(this.config().capacity.windowSeconds);
    state.load.add(bytes, this.now());
  }

  /** Hot path: why `mirror` cannot serve `file` now, queueing a check when evidence is missing or due. */
  unavailable(mirror: Mirror, file: FileRef, volatile: boolean): ExclusionReason | undefined {
    const config = this.config();
    if (!config.probe.enabled) return undefined;
    const state = this.get(mirror.name);
    if (state.health.state === 'down') return 'down';
    const rules = { ...config.freshness, volatileMaxAgeSeconds: config.volatileMaxAgeSeconds };
    const verdict = fileVerdict(state.evidence.get(file.path), state.syncStamp, file, volatile, rules, this.now());
    if (verdict.recheck) this.requestCheck(mirror.name, file.path, file.mtimeMs);
    return verdict.ok ? undefined : verdict.reason;
  }

  /** Bytes sent over the window ÷ what the effective capacity moves in that window. */
  utilisation(mirror: Mirror): number {
    const config = this.config();
    const state = this.get(mirror.name);
    const capacity = this.effectiveMbps(mirror, state);
    const sent = state.load.total(this.now()) * this.loadScale;
    return (sent * 8) / (capacity * 1e6 * config.capacity.windowSeconds);
  }

  effectiveMbps(mirror: Mirror, state = this.get(mirror.name)): number {
    const config = this.config();
    if (!config.probe.enabled) return mirror.bandwidthMbps;
    if (state.sharedCapacityMbps !== undefined) return state.sharedCapacityMbps;
    return effectiveMbps(mirror.bandwidthMbps, state.capacity, config.capacity.floor, state.health.failures);
  }
}
