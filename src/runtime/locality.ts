// Where a client is and which mirrors its location prefers, cached: the geo database answers once per
// address, and a selection plan is built once per (config, place). Rebuilt when the geoip settings or
// the mirrors change; database files replaced on disk are picked up by refresh().
import type { Config, Mirror } from '../config/load.js';
import { GeoLocator, shippedCityDatabases } from '../geo/locator.js';
import { NOWHERE, type Location } from '../geo/records.js';
import { planFor, type Plan } from '../selection/plan.js';
import type { Log } from '../log.js';

const MAX_PLANS = 50_000;

export class Locality {
  private locator: GeoLocator | undefined;
  private geoKey = '';
  private mirrors: readonly Mirror[] = [];
  private plans = new Map<Location, Plan>();
  private problems = '';

  constructor(private readonly log: Log) {}

  /** Adopts a (new) config: resets plans when the mirrors changed, the locator when geoip did. */
  configure(config: Config): void {
    if (config.mirrors !== this.mirrors) {
      this.mirrors = config.mirrors;
      this.plans = new Map();
    }
    const geo = config.geoip;
    const key = JSON.stringify(geo);
    if (key === this.geoKey) return;
    this.geoKey = key;
    this.locator = geo.enabled
      ? new GeoLocator({ city: geo.city === 'shipped' ? shippedCityDatabases() : geo.city, asn: geo.asn, cacheSize: geo.cacheSize })
      : undefined;
    this.plans = new Map();
  }

  locate(ip: string): Location {
    return this.locator === undefined || ip === '' ? NOWHERE : this.locator.locate(ip);
  }

  plan(location: Location): Plan {
    let plan = this.plans.get(location);
    if (plan === undefined) {
      if (this.plans.size >= MAX_PLANS) this.plans = new Map();
      plan = planFor(this.mirrors, location);
      this.plans.set(location, plan);
    }
    return plan;
  }

  /** Loads or re-reads the database files; logs when locality turns on, off or has a problem. */
  async refresh(): Promise<void> {
    if (this.locator === undefined) return;
    const result = await this.locator.refresh();
    const problems = result.problems.join('; ');
    if (problems !== this.problems) {
      this.problems = problems;
      if (problems !== '') this.log.warn({ problems }, this.locator.active ? 'geoip: some databases unusable' : 'geoip: no database; selecting without locality');
      else this.log.info({ databases: this.locator.describe().map((d) => d.path) }, 'geoip: databases loaded');
    }
    if (result.changed) this.plans = new Map();
  }

  /** For health/metrics: lookups that failed on a corrupt database node. */
  get lookupErrors(): number {
    return this.locator?.lookupErrors ?? 0;
  }

  /** For health/metrics: is locality on? */
  get active(): boolean {
    return this.locator?.active ?? false;
  }
}
