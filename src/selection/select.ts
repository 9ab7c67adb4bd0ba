// PURE mirror selection: (mirrors, file, client, random) → the chosen mirror plus every mirror left out,
// each with the reason. No I/O, no clock, no globals: every rule is a table-driven test in
// test/selection/. docs/selection.md states the rules this file implements.
import type { Mirror } from '../config/load.js';

/** Why a mirror was not a candidate for this request. */
export type ExclusionReason = 'disabled' | 'avoided';

export interface Exclusion {
  readonly mirror: Mirror;
  readonly reason: ExclusionReason;
}

export interface SelectionFile {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface SelectionInput {
  readonly mirrors: readonly Mirror[];
  readonly file: SelectionFile;
  /** Mirror names the client asked to skip (`?avoid=`). */
  readonly avoid?: ReadonlySet<string>;
  /** Uniform in [0, 1); injected so tests are reproducible. */
  readonly random: () => number;
}

export interface Selection {
  /** undefined when no mirror is eligible: the caller falls back, it never fails the request. */
  readonly chosen: Mirror | undefined;
  readonly candidates: readonly Mirror[];
  readonly excluded: readonly Exclusion[];
}

export function selectMirror(input: SelectionInput): Selection {
  const candidates: Mirror[] = [];
  const excluded: Exclusion[] = [];
  for (const mirror of input.mirrors) {
    const reason = exclusionOf(mirror, input);
    if (reason === undefined) candidates.push(mirror);
    else excluded.push({ mirror, reason });
  }
  return { chosen: pickByWeight(candidates, input.random), candidates, excluded };
}

function exclusionOf(mirror: Mirror, input: SelectionInput): ExclusionReason | undefined {
  if (!mirror.enabled) return 'disabled';
  if (input.avoid?.has(mirror.name)) return 'avoided';
  return undefined;
}

/** Each candidate is chosen with probability weight / total weight. */
export function pickByWeight<T extends { readonly weight: number }>(items: readonly T[], random: () => number): T | undefined {
  if (items.length <= 1) return items[0];
  let total = 0;
  for (const item of items) total += item.weight;
  let point = random() * total;
  for (const item of items) {
    point -= item.weight;
    if (point < 0) return item;
  }
  return items.at(-1);
}
