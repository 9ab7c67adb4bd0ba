// Why a mirror was not chosen for a request: a closed set, shown by `mirrorgate explain`, in logs and
// tested one by one.
import type { Mirror } from '../config/load.js';

export type ExclusionReason =
  /** enabled: false in the config */
  | 'disabled'
  /** countryOnly and the client is elsewhere (or its country is unknown) */
  | 'country-only'
  /** continentOnly and the client is on another continent (or unknown) */
  | 'continent-only'
  /** the client's country is in excludeCountries */
  | 'excluded-country'
  /** the client asked to skip it with ?avoid= */
  | 'avoided'
  /** the request came over https and the mirror serves only http */
  | 'no-https'
  /** health probes failed (see `mirrorgate mirrors` for why) */
  | 'down'
  /** the mirror answered 404 for this file */
  | 'missing'
  /** the mirror holds another copy of this file (size or Last-Modified differ) */
  | 'stale'
  /** no evidence yet that the mirror holds the current copy; a check is queued */
  | 'unverified';

export interface Exclusion {
  readonly mirror: Mirror;
  readonly reason: ExclusionReason;
}
