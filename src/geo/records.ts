// What a location database says about an address, reduced to what selection needs. Two record layouts
// are understood: ip-location-db's flat one (DB-IP Lite as shipped: country_code, latitude, longitude;
// its ASN files: asn) and MaxMind's nested GeoIP2/GeoLite2 one (country.iso_code, continent.code,
// location.latitude/longitude; ASN files: autonomous_system_number).
import { continentOf, isContinent, isCountry, type Continent } from '../config/countries.js';

export interface Location {
  readonly country: string | undefined;
  readonly continent: Continent | undefined;
  readonly latitude: number | undefined;
  readonly longitude: number | undefined;
  readonly asn: number | undefined;
}

export const NOWHERE: Location = Object.freeze({
  country: undefined, continent: undefined, latitude: undefined, longitude: undefined, asn: undefined,
});

export function locationFromRecord(record: unknown): Omit<Location, 'asn'> | undefined {
  if (!isObject(record)) return undefined;
  const nestedCountry = isObject(record.country) ? record.country.iso_code
    : isObject(record.registered_country) ? record.registered_country.iso_code : undefined;
  const country = str(record.country_code) ?? str(nestedCountry);
  const nestedContinent = isObject(record.continent) ? str(record.continent.code) : undefined;
  const loc = isObject(record.location) ? record.location : record;
  const latitude = num(loc.latitude);
  const longitude = num(loc.longitude);
  const validCountry = country !== undefined && isCountry(country) ? country : undefined;
  const continent = nestedContinent !== undefined && isContinent(nestedContinent)
    ? nestedContinent
    : validCountry !== undefined ? continentOf(validCountry) : undefined;
  if (validCountry === undefined && continent === undefined && latitude === undefined) return undefined;
  const hasCoordinates = latitude !== undefined && longitude !== undefined;
  return {
    country: validCountry,
    continent,
    latitude: hasCoordinates ? latitude : undefined,
    longitude: hasCoordinates ? longitude : undefined,
  };
}

export function asnFromRecord(record: unknown): number | undefined {
  if (!isObject(record)) return undefined;
  const value = record.autonomous_system_number ?? record.asn;
  const n = typeof value === 'string' ? Number(value.replace(/^AS/i, '')) : value;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object';
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value.toUpperCase() : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
