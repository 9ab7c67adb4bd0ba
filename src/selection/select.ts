// PURE mirror selection: (plan, request key, client, state callbacks) → the chosen mirror, the tier it
// came from and every mirror left out with its reason. No I/O, no clock, no globals: docs/selection.md
// states the rules and test/selection/ checks each one.
//
// Within a group the choice is weighted rendezvous hashing: each candidate m scores -ln(u(key, m)) /
// (weight × headroom) and the lowest score wins. A candidate's chance is its share of the group's
// weight × headroom, the same key always picks the same mirror while the group stays the same, and
// removing a mirror moves only the keys that mirror had.
import type { Mirror } from '../config/load.js';
import type { Exclusion, ExclusionReason } from './reasons.js';
import type { Plan, PlannedMirror, Tier } from './plan.js';
import { unitFor } from './hash.js';

export interface SelectionInput {
  readonly plan: Plan;
  /** requestKey(client network, path), or any uniform 32-bit draw. */
  readonly key: number;
  readonly https: boolean;
  readonly ipv6: boolean;
  /** Mirror names the client asked to skip (`?avoid=`). */
  readonly avoid?: ReadonlySet<string> | undefined;
  /** Per-request state: why this mirror cannot serve now (down, lacks the file…); undefined = it can. */
  readonly unavailable?: (mirror: Mirror) => ExclusionReason | undefined;
  /**
   * Remaining capacity in [0, 1]: 1 idle, 0 saturated. A group whose candidates are all saturated
   * widens to the next tier. Default: always 1.
   */
  readonly headroom?: (mirror: Mirror) => number;
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
  let saturated: { mirror: PlannedMirror; tier: Tier } | undefined;
  for (const group of plan.groups) {
    for (let i = start; i < group.end; i++) {
      const planned = plan.members[i] as PlannedMirror;
      const reason = reasonToSkip(planned.mirror, input);
      if (reason === undefined) candidates.push(planned);
      else (excluded ??= [...plan.restricted]).push({ mirror: planned.mirror, reason });
    }
    start = group.end;
    if (candidates.length === 0) continue;
    const best = pick(candidates, input, true);
    if (best !== undefined) return { chosen: best.mirror, tier: group.tier, excluded: excluded ?? plan.restricted };
    saturated = { mirror: pick(candidates, input, false) as PlannedMirror, tier: group.tier };
  }
  // Every candidate is saturated: still answer, never refuse a download.
  return { chosen: saturated?.mirror.mirror, tier: saturated?.tier, excluded: excluded ?? plan.restricted };
}

export function reasonToSkip(mirror: Mirror, input: SelectionInput): ExclusionReason | undefined {
  if (input.avoid?.has(mirror.name)) return 'avoided';
  if (input.https && mirror.httpsUrl === undefined) return 'no-https';
  return input.unavailable?.(mirror);
}

/** Rendezvous over the candidates; IPv6 clients keep to IPv6 mirrors when the group has any. */
function pick(candidates: readonly PlannedMirror[], input: SelectionInput, needHeadroom: boolean): PlannedMirror | undefined {
  const v6Only = input.ipv6 && candidates.some((c) => c.mirror.ipv6);
  let best: PlannedMirror | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    if (v6Only && !c.mirror.ipv6) continue;
    const room = needHeadroom ? (input.headroom?.(c.mirror) ?? 1) : 1;
    if (room <= 0) continue;
    const score = -Math.log(unitFor(input.key, c.seed)) / (c.mirror.weight * room);
    if (score < bestScore) {
      bestScore = score;
      best = c;
    }
  }
  return best;
}
