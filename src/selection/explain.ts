// PURE: why a request gets the mirror it gets. Runs the same selection, then describes every mirror:
// its tier, distance, weight, share of its group and rank for this client, or why it was left out.
// Used by `mirrorgate explain` and GET /_mirrorgate/explain.
import type { Mirror } from '../config/load.js';
import { selectMirror, reasonToSkip, headroomOf, type SelectionInput } from './select.js';
import type { Tier } from './plan.js';
import type { ExclusionReason } from './reasons.js';
import { unitFor } from './hash.js';

export interface ExplainedMirror {
  readonly name: string;
  readonly tier: Tier | null;
  readonly distanceKm: number | null;
  readonly weight: number;
  /** Chance of being chosen for a random client of this place, within the chosen group. */
  readonly share: number;
  /** 1 = this client's pick within the chosen group; null outside it. */
  readonly rank: number | null;
  readonly status: 'chosen' | 'candidate' | 'wider-tier' | ExclusionReason;
}

export interface Explanation {
  readonly chosen: string | null;
  readonly tier: Tier | null;
  readonly mirrors: readonly ExplainedMirror[];
}

export function explainSelection(input: SelectionInput): Explanation {
  const { plan } = input;
  const result = selectMirror(input);
  const groupEnd = plan.groups.find((g) => g.tier === result.tier)?.end ?? 0;
  const headroom = (m: Mirror) => headroomOf(m, input);
  const inGroup = plan.members.slice(0, groupEnd).filter((p) => reasonToSkip(p.mirror, input) === undefined);
  const v6Only = input.ipv6 && inGroup.some((p) => p.mirror.ipv6);
  const contenders = inGroup.filter((p) => !v6Only || p.mirror.ipv6);
  const total = contenders.reduce((s, p) => s + p.mirror.weight * headroom(p.mirror), 0);
  const ranked = [...contenders].sort((a, b) => score(a.seed, a.mirror) - score(b.seed, b.mirror));
  function score(seed: number, m: Mirror): number {
    const w = m.weight * headroom(m);
    return w <= 0 ? Infinity : -Math.log(unitFor(input.key, seed)) / w;
  }

  const rows: ExplainedMirror[] = plan.members.map((p, i) => {
    const reason = reasonToSkip(p.mirror, input);
    const rank = ranked.indexOf(p);
    const status = p.mirror === result.chosen ? 'chosen'
      : reason !== undefined ? reason
      : i < groupEnd ? 'candidate' : 'wider-tier';
    return {
      name: p.mirror.name,
      tier: p.tier,
      distanceKm: p.distanceKm === undefined ? null : Math.round(p.distanceKm),
      weight: p.mirror.weight,
      share: rank === -1 || total === 0 ? 0 : (p.mirror.weight * headroom(p.mirror)) / total,
      rank: rank === -1 ? null : rank + 1,
      status,
    };
  });
  for (const e of plan.restricted) {
    rows.push({ name: e.mirror.name, tier: null, distanceKm: null, weight: e.mirror.weight, share: 0, rank: null, status: e.reason });
  }
  return { chosen: result.chosen?.name ?? null, tier: result.tier ?? null, mirrors: rows };
}

/** What a request does with the ranking: a file smaller than smallFileBytes is served directly, so no mirror is chosen. */
export function explainAnswer(input: SelectionInput, smallFile: boolean): Explanation {
  const ranked = explainSelection(input);
  if (!smallFile) return ranked;
  return { chosen: null, tier: null, mirrors: ranked.mirrors.map((m) => (m.status === 'chosen' ? { ...m, status: 'candidate' } : m)) };
}
