// PURE: the tiers of mirrors a client's location prefers, nearest first (docs/selection.md). A plan
// depends only on the config and the client's location, so the runtime caches it per location; the
// per-request state (health, freshness, ?avoid, https) is applied by select.ts.
import type { Mirror } from '../config/load.js';
import type { Location } from '../geo/records.js';
import { distanceKm } from './distance.js';
import { hashString } from './hash.js';
import type { Exclusion } from './reasons.js';

export type Tier = 'asn' | 'country' | 'continent' | 'nearby' | 'world';

/** A mirror whose distance from the nearest one beyond the continent is within this joins its group. */
export const NEARBY_BAND_KM = 1500;

export interface PlannedMirror {
  readonly mirror: Mirror;
  /** The mirror's rendezvous seed. */
  readonly seed: number;
  readonly tier: Tier;
  /** Great-circle distance to the client; undefined when either has no coordinates. */
  readonly distanceKm: number | undefined;
}

export interface Plan {
  /** Candidates ordered by tier. Group k is members[0 .. ends[k]): each group widens the one before. */
  readonly members: readonly PlannedMirror[];
  readonly groups: readonly { readonly tier: Tier; readonly end: number }[];
  /** Mirrors this client may never get, whatever their state (disabled, restricted to other countries). */
  readonly restricted: readonly Exclusion[];
  /** The members' seeds, 1/weight and IPv6 flags side by side, for the redirect path's tight loop. */
  readonly columns: PlanColumns;
}

export interface PlanColumns {
  readonly seed: Uint32Array;
  readonly inverseWeight: Float64Array;
  readonly ipv6: Uint8Array;
}

export function planFor(mirrors: readonly Mirror[], client: Location): Plan {
  const restricted: Exclusion[] = [];
  let remaining: { mirror: Mirror; distanceKm: number | undefined }[] = [];
  for (const mirror of mirrors) {
    const reason = restrictionOf(mirror, client);
    if (reason !== undefined) restricted.push({ mirror, reason });
    else remaining.push({ mirror, distanceKm: distanceTo(mirror, client) });
  }
  const members: PlannedMirror[] = [];
  const groups: { tier: Tier; end: number }[] = [];
  const take = (tier: Tier, test: (m: Mirror, d: number | undefined) => boolean) => {
    const keep: typeof remaining = [];
    for (const r of remaining) {
      if (test(r.mirror, r.distanceKm)) members.push({ mirror: r.mirror, seed: seedOf(r.mirror), tier, distanceKm: r.distanceKm });
      else keep.push(r);
    }
    if (keep.length !== remaining.length) groups.push({ tier, end: members.length });
    remaining = keep;
  };
  if (client.asn !== undefined) take('asn', (m) => m.asn === client.asn);
  if (client.country !== undefined) take('country', (m) => m.country === client.country);
  if (client.continent !== undefined) take('continent', (m) => m.continent === client.continent);
  for (;;) {
    let nearest = Infinity;
    for (const r of remaining) if (r.distanceKm !== undefined && r.distanceKm < nearest) nearest = r.distanceKm;
    if (nearest === Infinity) break;
    take('nearby', (_m, d) => d !== undefined && d <= nearest + NEARBY_BAND_KM);
  }
  take('world', () => true);
  return { members, groups, restricted, columns: columnsOf(members) };
}

function columnsOf(members: readonly PlannedMirror[]): PlanColumns {
  const n = members.length;
  const columns = { seed: new Uint32Array(n), inverseWeight: new Float64Array(n), ipv6: new Uint8Array(n) };
  members.forEach((m, i) => {
    columns.seed[i] = m.seed;
    columns.inverseWeight[i] = 1 / m.mirror.weight;
    columns.ipv6[i] = m.mirror.ipv6 ? 1 : 0;
  });
  return columns;
}

function restrictionOf(mirror: Mirror, client: Location): Exclusion['reason'] | undefined {
  if (!mirror.enabled) return 'disabled';
  if (mirror.onlyCountries !== undefined && (client.country === undefined || !mirror.onlyCountries.includes(client.country))) {
    return 'country-only';
  }
  if (mirror.continentOnly && client.continent !== mirror.continent) return 'continent-only';
  if (client.country !== undefined && mirror.excludeCountries.includes(client.country)) return 'excluded-country';
  return undefined;
}

function distanceTo(mirror: Mirror, client: Location): number | undefined {
  if (mirror.latitude === undefined || mirror.longitude === undefined) return undefined;
  if (client.latitude === undefined || client.longitude === undefined) return undefined;
  return distanceKm(client.latitude, client.longitude, mirror.latitude, mirror.longitude);
}

const seeds = new WeakMap<Mirror, number>();

function seedOf(mirror: Mirror): number {
  let seed = seeds.get(mirror);
  if (seed === undefined) {
    seed = hashString(mirror.name);
    seeds.set(mirror, seed);
  }
  return seed;
}
