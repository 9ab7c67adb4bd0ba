// Mirrors for selection tests: build one with only the fields a case cares about.
import type { Mirror } from '../../src/config/load.js';
import { continentOf } from '../../src/config/countries.js';

export function mirror(name: string, over: Partial<Mirror> = {}): Mirror {
  const country = over.country;
  return {
    index: 0, name, url: `http://${name}.example/`, weight: 100, bandwidthMbps: 1000,
    country, continent: country === undefined ? undefined : continentOf(country),
    latitude: undefined, longitude: undefined, asn: undefined, enabled: true,
    onlyCountries: undefined, continentOnly: false, excludeCountries: [], httpsUrl: `https://${name}.example/`, ipv6: true,
    timestampFile: undefined, probePath: undefined,
    ...over,
  };
}

/** Two mirrors on each of five continents, with real coordinates. */
export const WORLD: Mirror[] = [
  mirror('uk-london', { country: 'GB', latitude: 51.5, longitude: -0.1 }),
  mirror('de-frankfurt', { country: 'DE', latitude: 50.1, longitude: 8.7 }),
  mirror('us-oregon', { country: 'US', latitude: 45.6, longitude: -122.7 }),
  mirror('us-virginia', { country: 'US', latitude: 38.9, longitude: -77.0 }),
  mirror('au-sydney', { country: 'AU', latitude: -33.9, longitude: 151.2 }),
  mirror('nz-auckland', { country: 'NZ', latitude: -36.8, longitude: 174.8 }),
  mirror('jp-tokyo', { country: 'JP', latitude: 35.7, longitude: 139.7 }),
  mirror('sg-singapore', { country: 'SG', latitude: 1.35, longitude: 103.8 }),
  mirror('br-saopaulo', { country: 'BR', latitude: -23.5, longitude: -46.6 }),
  mirror('ar-buenosaires', { country: 'AR', latitude: -34.6, longitude: -58.4 }),
];
