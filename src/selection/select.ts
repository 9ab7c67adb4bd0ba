// PURE mirror selection: (plan, request key, client, file, state view) → the chosen mirror, the tier it
// came from and every mirror left out with its reason. No I/O, no clock, no globals: docs/selection.md
// states the rules and test/selection/ checks each one.
//
// The default scheduler is weighted rendezvous hashing: each candidate m scores
// -ln(u(key, m)) / (weight × headroom) and the lowest wins. A candidate's chance is its share of the
// group's weight × headroom, the same key always picks the same mirror while the group stays the same,
// and removing a mirror moves only the keys that mirror had.
import type { Mirror } from '../config/load.js';
import type { Exclusion, ExclusionReason } from './reasons.js';
import type { Plan, PlannedMirror, Tier } from './plan.js';
import { unitFor } from './hash.js';

export type Scheduler = 'weighted' | 'round-robin' | 'least-loaded';

export interface SelectionFile {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

/** What selection may ask about mirrors' current state. The runtime's MirrorStates is the implementation. */
export interface SelectionState {
  /** Why this mirror cannot serve this file now (down, lacks the file, unverified); undefined = it can. */
  unavailable(mirror: Mirror, file: SelectionFile, volatile: boolean, nowMs?: number): ExclusionReason | undefined;
  /** Bytes recently sent ÷ what the mirror's effective capacity moves in that time; ≥ 1 = saturated. */
  utilisation(mirror: Mirror, nowMs?: number): number;
}

/** Smooth weighted round-robin state (nginx's algorithm): current weight per mirror name. */
export type RoundRobinState = Map<string, number>;

export interface SelectionInput {
  readonly plan: Plan;
  /** requestKey(client network, path), or any uniform 32-bit draw. */
  readonly key: number;
  readonly https: boolean;
  readonly ipv6: boolean;
  /** Mirror names the client asked to skip (`?avoid=`). */
  readonly avoid?: ReadonlySet<string> | undefined;
  readonly file?: SelectionFile;
  readonly volatile?: boolean;
  /** Without it every mirror is available and idle. */
  readonly state?: SelectionState;
  readonly scheduler?: Scheduler;
  /** Needed by the round-robin scheduler; kept by the caller between requests. */
  readonly roundRobin?: RoundRobinState;
  /** The request's time, read once and handed to every state question. */
  readonly nowMs?: number;
}

export interface Selection {
  /** undefined when no mirror is eligible: the caller falls back, it never fails the request. */
  readonly chosen: Mirror | undefined;
  readonly tier: Tier | undefined;
  readonly excluded: readonly Exclusion[];
}

export function selectMirror(input: SelectionInput): Selection {
  const { plan } = input;
  let excluded: Exclusion[] | undefined;
  const candidates: PlannedMirror[] = [];
  let start = 0;
  for (const group of plan.groups) {
    if (group.end - start > LAZY_GROUP && (input.scheduler ?? 'weighted') === 'weighted') {
      const lazy = lazyRendezvous(plan.members, group.end, input);
      if (lazy.best !== undefined) return { chosen: lazy.best.mirror, tier: group.tier, excluded: [...plan.restricted, ...lazy.excluded] };
    }
    for (let i = start; i < group.end; i++) {
      const planned = plan.members[i] as PlannedMirror;
      const reason = reasonToSkip(planned.mirror, input);
      if (reason === undefined) candidates.push(planned);
      else (excluded ??= [...plan.restricted]).push({ mirror: planned.mirror, reason });
    }
    start = group.end;
    if (candidates.length === 0) continue;
    const best = pick(candidates, input, false);
    if (best !== undefined) return { chosen: best.mirror, tier: group.tier, excluded: excluded ?? plan.restricted };
  }
  // Every candidate is saturated: still answer with the least utilised, never refuse a download.
  const last = plan.groups.at(-1);
  const fallback = candidates.length > 0 ? pick(candidates, input, true) : undefined;
  return { chosen: fallback?.mirror, tier: fallback === undefined ? undefined : last?.tier, excluded: excluded ?? plan.restricted };
}

/** Groups larger than this are searched lazily (below): the answer is the same, the work much less. */
const LAZY_GROUP = 24;

/**
 * Weighted rendezvous over members[0 .. end) that checks a mirror's state only when it could still win.
 * A mirror's true score is its base score -ln(u)/weight divided by its headroom (≤ 1), so it is never
 * below the base score: visiting mirrors in order of base score, the search can stop as soon as the
 * next base score is no better than the best true score found. The winner is exactly the one the full
 * scan picks, but a group of 500 mirrors costs a few state checks instead of 500. Mirrors visited and
 * found unavailable are reported as excluded. IPv6 clients search the IPv6 mirrors first.
 */
function lazyRendezvous(members: readonly PlannedMirror[], end: number, input: SelectionInput): { best: PlannedMirror | undefined; excluded: Exclusion[] } {
  const excluded: Exclusion[] = [];
  const checked = new Set<PlannedMirror>();
  const passes = input.ipv6 ? [true, false] : [false];
  for (const v6Only of passes) {
    const base = new Float64Array(end);
    for (let i = 0; i < end; i++) {
      const m = members[i] as PlannedMirror;
      base[i] = v6Only && !m.mirror.ipv6 ? Infinity : -Math.log(unitFor(input.key, m.seed)) / m.mirror.weight;
    }
    const original = base.slice();
    let best: PlannedMirror | undefined;
    let bestScore = Infinity;
    for (;;) {
      let at = -1;
      let low = Infinity;
      for (let i = 0; i < end; i++) {
        if ((base[i] as number) < low) {
          low = base[i] as number;
          at = i;
        }
      }
      if (at === -1 || low >= bestScore) break;
      base[at] = Infinity;
      const m = members[at] as PlannedMirror;
      const reason = reasonToSkip(m.mirror, input);
      if (reason !== undefined) {
        if (!checked.has(m)) excluded.push({ mirror: m.mirror, reason });
        checked.add(m);
        continue;
      }
      const room = headroomOf(m.mirror, input);
      if (room <= 0) continue;
      const score = (original[at] as number) / room;
      if (score < bestScore) {
        bestScore = score;
        best = m;
      }
    }
    if (best !== undefined) return { best, excluded };
    // An IPv6 client whose IPv6 mirrors are all unavailable: any mirror will do (the full rule).
    if (v6Only && members.slice(0, end).some((m) => m.mirror.ipv6 && reasonToSkip(m.mirror, input) === undefined)) break;
  }
  return { best: undefined, excluded };
}

export function reasonToSkip(mirror: Mirror, input: SelectionInput): ExclusionReason | undefined {
  if (input.avoid?.has(mirror.name)) return 'avoided';
  if (input.https && mirror.httpsUrl === undefined) return 'no-https';
  if (input.state === undefined || input.file === undefined) return undefined;
  return input.state.unavailable(mirror, input.file, input.volatile === true, input.nowMs);
}

/** Headroom in [0, 1] for the weighted scheduler: 1 − utilisation. */
export function headroomOf(mirror: Mirror, input: SelectionInput): number {
  return input.state === undefined ? 1 : Math.max(0, 1 - input.state.utilisation(mirror, input.nowMs));
}

/**
 * One scheduler's pick among the candidates; IPv6 clients keep to IPv6 mirrors when there are any.
 * `saturatedToo` = the last resort: ignore capacity and take the least utilised.
 */
function pick(candidates: readonly PlannedMirror[], input: SelectionInput, saturatedToo: boolean): PlannedMirror | undefined {
  const v6Only = input.ipv6 && candidates.some((c) => c.mirror.ipv6);
  const scheduler = input.scheduler ?? 'weighted';
  if (scheduler === 'round-robin') return roundRobin(candidates, v6Only, input.roundRobin ?? new Map());
  if (saturatedToo || scheduler === 'least-loaded') return leastLoaded(candidates, v6Only, input, saturatedToo);
  let best: PlannedMirror | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    if (v6Only && !c.mirror.ipv6) continue;
    const room = headroomOf(c.mirror, input);
    if (room <= 0) continue;
    const score = -Math.log(unitFor(input.key, c.seed)) / (c.mirror.weight * room);
    if (score < bestScore) {
      bestScore = score;
      best = c;
    }
  }
  return best;
}

/** The lowest utilisation (below 1 unless saturatedToo); ties broken by weighted rendezvous. */
function leastLoaded(candidates: readonly PlannedMirror[], v6Only: boolean, input: SelectionInput, saturatedToo: boolean): PlannedMirror | undefined {
  let best: PlannedMirror | undefined;
  let bestLoad = Infinity;
  let bestScore = Infinity;
  for (const c of candidates) {
    if (v6Only && !c.mirror.ipv6) continue;
    const load = input.state?.utilisation(c.mirror, input.nowMs) ?? 0;
    if (!saturatedToo && load >= 1) continue;
    const score = -Math.log(unitFor(input.key, c.seed)) / c.mirror.weight;
    if (load < bestLoad || (load === bestLoad && score < bestScore)) {
      best = c;
      bestLoad = load;
      bestScore = score;
    }
  }
  return best;
}

/** Smooth weighted round robin: every candidate gains its weight, the richest wins and pays the total. */
function roundRobin(candidates: readonly PlannedMirror[], v6Only: boolean, state: RoundRobinState): PlannedMirror | undefined {
  let best: PlannedMirror | undefined;
  let bestCurrent = -Infinity;
  let total = 0;
  for (const c of candidates) {
    if (v6Only && !c.mirror.ipv6) continue;
    const current = (state.get(c.mirror.name) ?? 0) + c.mirror.weight;
    state.set(c.mirror.name, current);
    total += c.mirror.weight;
    if (current > bestCurrent) {
      bestCurrent = current;
      best = c;
    }
  }
  if (best !== undefined) state.set(best.mirror.name, bestCurrent - total);
  return best;
}
