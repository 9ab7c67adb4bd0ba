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
  /** With size and mtime, names the repository's copy (evidence is about one copy). */
  readonly ctimeMs: number;
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

/**
 * The redirect path's selection: the mirror and tier selectMirror would choose, found with far less work
 * and no allocation. For the weighted scheduler each group is searched lazily (lazyPick); when nothing
 * unsaturated is found, and for the other schedulers, it is selectMirror itself.
 */
export function chooseMirror(input: SelectionInput): { readonly chosen: Mirror | undefined; readonly tier: Tier | undefined } {
  if ((input.scheduler ?? 'weighted') !== 'weighted') return selectMirror(input);
  const { plan } = input;
  const { groups } = plan;
  let start = 0;
  let ipv6Available = false;
  for (const group of groups) {
    let best: PlannedMirror | undefined;
    if (input.ipv6) {
      // IPv6 clients keep to IPv6 mirrors while the group has an available one (see pick()).
      best = lazyPick(plan, start, group.end, IPV6_ONLY, input);
      ipv6Available ||= sawAvailableIpv6;
      if (best === undefined && !ipv6Available) best = lazyPick(plan, start, group.end, IPV4_ONLY, input);
    } else {
      best = lazyPick(plan, start, group.end, ANY, input);
    }
    if (best !== undefined) return { chosen: best.mirror, tier: group.tier };
    // Every mirror of this group was visited and none can serve unsaturated: the next group adds only
    // new members, because these could not win there either.
    start = group.end;
  }
  return selectMirror(input); // all saturated (the least utilised), or nothing at all
}

export interface Ranked {
  readonly mirror: Mirror;
  readonly tier: Tier | undefined;
}

/** Scratch for rankMirrors (synchronous, so one set serves every call). */
const ranking = new Set<string>();

/**
 * The mirrors this client would get after `first`, best first: each is what selection would pick if
 * every mirror before it were avoided. For Link alternates, Metalink priorities and the mirror list.
 * `state` replaces the input's state view (the redirect ranks over one that asks for no checks). The
 * round-robin state is not advanced (a copy is used).
 *
 * For an IPv4 client and the weighted scheduler it costs about one selection, not one per rank: the
 * mirrors each group adds are searched once for their best `count` (lazyTopK), which is what repeated
 * selection with the earlier ranks avoided would find there, since a group's search only ever widens to
 * the next when nothing of it is left. What no group yields (every candidate saturated) and the other
 * cases take the plain way: selection again with the ranks so far avoided. test/selection/rank.test.ts
 * checks both ways give the same order.
 */
export function rankMirrors(input: SelectionInput, count: number, first?: Mirror, state: SelectionState | undefined = input.state): Ranked[] {
  const ranked: Ranked[] = [];
  if (count <= 0) return ranked;
  ranking.clear();
  if (input.avoid !== undefined) for (const name of input.avoid) ranking.add(name);
  if (first !== undefined) ranking.add(first.name);
  const roundRobin = input.scheduler === 'round-robin' ? new Map(input.roundRobin) : input.roundRobin;
  // Spelled out, not spread: one object shape for every call (this runs on each redirect).
  const asked: SelectionInput = {
    plan: input.plan, key: input.key, https: input.https, ipv6: input.ipv6, avoid: ranking, file: input.file, volatile: input.volatile,
    state, scheduler: input.scheduler, roundRobin, nowMs: input.nowMs,
  };
  if ((input.scheduler ?? 'weighted') === 'weighted' && !input.ipv6) {
    // The groups before `first`'s had nothing to offer its selection, and have nothing now.
    let skipTo = 0;
    if (first !== undefined) {
      const { members } = input.plan;
      while (skipTo < members.length && (members[skipTo] as PlannedMirror).mirror !== first) skipTo++;
    }
    let start = 0;
    for (const group of input.plan.groups) {
      if (ranked.length >= count) return ranked;
      if (group.end <= skipTo) {
        start = group.end;
        continue;
      }
      for (const m of lazyTopK(input.plan, start, group.end, asked, count - ranked.length)) {
        ranked.push({ mirror: m.mirror, tier: group.tier });
        ranking.add(m.mirror.name);
      }
      start = group.end;
    }
  }
  return slowRank(asked, ranked, count);
}

/** rankMirrors the plain way: choose, avoid it, choose again. Also the reference the fast way is tested against. */
export function rankBySelection(input: SelectionInput, count: number, first?: Mirror, state: SelectionState | undefined = input.state): Ranked[] {
  const avoid = new Set(input.avoid ?? []);
  if (first !== undefined) avoid.add(first.name);
  const roundRobin = input.scheduler === 'round-robin' ? new Map(input.roundRobin) : input.roundRobin;
  return slowRank({ ...input, avoid, roundRobin, state }, [], count);
}

function slowRank(asked: SelectionInput, ranked: Ranked[], count: number): Ranked[] {
  const avoid = asked.avoid as Set<string>;
  while (ranked.length < count) {
    const { chosen, tier } = chooseMirror(asked);
    if (chosen === undefined) break;
    ranked.push({ mirror: chosen, tier });
    avoid.add(chosen.name);
  }
  return ranked;
}

/** The full rule, with every mirror left out and why: explain, the CLI and the tests use it. */
export function selectMirror(input: SelectionInput): Selection {
  const { plan } = input;
  let excluded: Exclusion[] | undefined;
  const candidates: PlannedMirror[] = [];
  let start = 0;
  for (const group of plan.groups) {
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

const ANY = 0;
const IPV6_ONLY = 1;
const IPV4_ONLY = 2;
/** Scratch for lazyPick: selection is synchronous, so one set of buffers serves every request. */
let scratch = { bound: new Float64Array(64), unit: new Float64Array(64), exact: new Uint8Array(64) };
/** The scratch buffers, grown to hold `n` mirrors. */
function scratchFor(n: number): typeof scratch {
  if (scratch.bound.length < n) scratch = { bound: new Float64Array(2 * n), unit: new Float64Array(2 * n), exact: new Uint8Array(2 * n) };
  return scratch;
}
/** Set by lazyPick: it met an available (not necessarily unsaturated) IPv6 mirror. */
let sawAvailableIpv6 = false;

/**
 * Weighted rendezvous over members[start, end) that asks about a mirror's state only when it could
 * still win. A mirror's true score is its base score -ln(u)/weight divided by its headroom (≤ 1), so
 * never below the base score: visiting mirrors in order of base score, the search stops as soon as the
 * next base score is no better than the best true score found. The winner is exactly pick()'s, but a
 * group of 500 mirrors costs one or two state checks instead of 500. Without a winner every mirror of
 * the range has been visited.
 *
 * The logarithm is most of a base score's cost, so each mirror starts with the lower bound
 * (1 - u)/weight (ln u ≤ u - 1) and gets its exact base score only when that bound is the smallest left;
 * a bound that is the smallest and exact is the smallest base score. Near u = 1, where winners are,
 * the bound is tight: a few logarithms per request instead of one per mirror.
 */
function lazyPick(plan: Plan, start: number, end: number, family: number, input: SelectionInput): PlannedMirror | undefined {
  const n = end - start;
  const { bound, unit, exact } = scratchFor(n);
  const { seed, inverseWeight, ipv6 } = plan.columns;
  const key = input.key;
  // The smallest bound (at, low) and the second smallest (next), kept by every pass over the range.
  let at = -1;
  let low = Infinity;
  let next = Infinity;
  for (let i = 0; i < n; i++) {
    const j = start + i;
    exact[i] = 0;
    if (family === IPV6_ONLY ? ipv6[j] === 0 : family === IPV4_ONLY && ipv6[j] === 1) {
      bound[i] = Infinity;
      continue;
    }
    const u = unitFor(key, seed[j] as number);
    unit[i] = u;
    const b = (1 - u) * (inverseWeight[j] as number);
    bound[i] = b;
    if (b < low) {
      next = low;
      low = b;
      at = i;
    } else if (b < next) next = b;
  }
  sawAvailableIpv6 = false;
  let best: PlannedMirror | undefined;
  let bestScore = Infinity;
  while (at !== -1 && low < bestScore) {
    if (exact[at] === 0) {
      low = -Math.log(unit[at] as number) / (plan.members[start + at] as PlannedMirror).mirror.weight;
      bound[at] = low;
      exact[at] = 1;
    }
    // Still below every other bound: the smallest base score left. Otherwise look again.
    if (low <= next && low < bestScore) {
      const m = plan.members[start + at] as PlannedMirror;
      bound[at] = Infinity;
      const score = visit(m, low, input);
      if (score < bestScore) {
        bestScore = score;
        best = m;
      }
    }
    at = -1;
    low = Infinity;
    next = Infinity;
    for (let i = 0; i < n; i++) {
      const b = bound[i] as number;
      if (b < low) {
        next = low;
        low = b;
        at = i;
      } else if (b < next) next = b;
    }
  }
  return best;
}

/**
 * lazyPick's search for the best `k` of members[start, end) that can serve unsaturated, best first: it
 * stops when the next base score is no better than the k-th best true score found. IPv4 clients only.
 */
function lazyTopK(plan: Plan, start: number, end: number, input: SelectionInput, k: number): PlannedMirror[] {
  const n = end - start;
  const best: PlannedMirror[] = [];
  if (n <= 0) return best;
  const scores = topScores.length >= k ? topScores : (topScores = new Float64Array(2 * k));
  const { bound, unit, exact } = scratchFor(n);
  const { seed, inverseWeight } = plan.columns;
  for (let i = 0; i < n; i++) {
    const u = unitFor(input.key, seed[start + i] as number);
    unit[i] = u;
    exact[i] = 0;
    bound[i] = (1 - u) * (inverseWeight[start + i] as number);
  }
  for (;;) {
    // The smallest bound left.
    let at = -1;
    let low = Infinity;
    for (let i = 0; i < n; i++) {
      const b = bound[i] as number;
      if (b < low) {
        low = b;
        at = i;
      }
    }
    const limit = best.length < k ? Infinity : (scores[k - 1] as number);
    if (at === -1 || low >= limit) return best;
    if (exact[at] === 0) {
      bound[at] = -Math.log(unit[at] as number) / (plan.members[start + at] as PlannedMirror).mirror.weight;
      exact[at] = 1;
      continue; // look again: it may no longer be the smallest
    }
    bound[at] = Infinity;
    const m = plan.members[start + at] as PlannedMirror;
    const score = visit(m, low, input);
    if (score === Infinity || score >= limit) continue;
    // Insert in order, dropping the (k+1)-th.
    let i = best.length < k ? best.length : k - 1;
    if (best.length < k) best.push(m);
    while (i > 0 && (scores[i - 1] as number) > score) {
      scores[i] = scores[i - 1] as number;
      best[i] = best[i - 1] as PlannedMirror;
      i--;
    }
    scores[i] = score;
    best[i] = m;
  }
}

/** Scratch for lazyTopK's scores. */
let topScores = new Float64Array(16);

/** A mirror's true score (base ÷ headroom), or Infinity when it cannot serve or has no headroom. */
function visit(m: PlannedMirror, base: number, input: SelectionInput): number {
  if (reasonToSkip(m.mirror, input) !== undefined) return Infinity;
  if (m.mirror.ipv6) sawAvailableIpv6 = true;
  const room = headroomOf(m.mirror, input);
  return room <= 0 ? Infinity : base / room;
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
