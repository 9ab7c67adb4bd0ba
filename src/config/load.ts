// mirrors.json → validated, defaulted, frozen Config. Two passes: the schema (shape, types, unknown keys),
// then meaning (unique names, URLs, ISO codes, CIDRs). Every problem names its JSON path. Never exits.
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { BlockList, isIP } from 'node:net';
import { Ajv, type ErrorObject } from 'ajv';
import { ConfigSchema, type RawConfig, type RawMirror } from './schema.js';
import { continentOf, isContinent, isCountry, type Continent } from './countries.js';
import { errors } from '../errors.js';

export interface Mirror {
  /** Position among the configured mirrors; stable for the life of one Config. */
  readonly index: number;
  readonly name: string;
  /** Absolute base URL ending in '/'; a file's Location is this plus its encoded path. */
  readonly url: string;
  readonly weight: number;
  readonly bandwidthMbps: number;
  readonly country: string | undefined;
  readonly continent: Continent | undefined;
  readonly latitude: number | undefined;
  readonly longitude: number | undefined;
  readonly enabled: boolean;
}

export interface Config {
  /** Absolute path of the file this came from. */
  readonly source: string;
  /** Absolute path of the repository root. */
  readonly repository: string;
  readonly smallFileBytes: number;
  readonly fallbackUrl: string | undefined;
  readonly trustProxy: readonly string[];
  readonly rateLimit: Readonly<RawConfig['rateLimit']>;
  readonly catalog: Readonly<RawConfig['catalog']>;
  readonly counters: Readonly<RawConfig['counters']>;
  readonly probe: Readonly<RawConfig['probe']>;
  readonly mirrors: readonly Mirror[];
}

export interface Problem {
  /** JSON path of the offending value, e.g. `mirrors[2].weight`; `(root)` for the document. */
  readonly path: string;
  readonly message: string;
}

export type ConfigResult =
  | { readonly ok: true; readonly config: Config; readonly warnings: readonly Problem[] }
  | { readonly ok: false; readonly problems: readonly Problem[] };

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
const validateShape = ajv.compile<RawConfig>(ConfigSchema);

/** Reads and validates a config file. Throws only when the file cannot be read or is not JSON. */
export function loadConfigFile(file: string): ConfigResult {
  const source = resolve(file);
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch (err) {
    throw new errors.MG_ERR_CONFIG_READ(source, (err as Error).message);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new errors.MG_ERR_CONFIG_JSON(source, (err as Error).message);
  }
  return validateConfig(doc, source);
}

/** Like loadConfigFile, but a bad config is an error too (its message lists every problem). */
export function loadConfigOrThrow(file: string): Config {
  const result = loadConfigFile(file);
  if (!result.ok) throw new errors.MG_ERR_CONFIG_INVALID(resolve(file), formatProblems(result.problems));
  return result.config;
}

export function validateConfig(doc: unknown, source: string): ConfigResult {
  const raw = structuredClone(doc);
  if (!validateShape(raw)) {
    return { ok: false, problems: (validateShape.errors ?? []).map(shapeProblem) };
  }
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const mirrors = raw.mirrors.map((m, i) => checkMirror(m, i, problems));
  const seen = new Map<string, number>();
  raw.mirrors.forEach((m, i) => {
    const key = m.name.toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) problems.push({ path: `mirrors[${i}].name`, message: `duplicates the name of mirrors[${first}]` });
    else seen.set(key, i);
  });
  raw.trustProxy.forEach((cidr, i) => {
    if (!parseCidr(cidr)) problems.push({ path: `trustProxy[${i}]`, message: `"${cidr}" is not an IP address or CIDR` });
  });
  let fallbackUrl: string | undefined;
  if (raw.fallbackUrl !== undefined) fallbackUrl = checkBaseUrl(raw.fallbackUrl, 'fallbackUrl', problems);
  const repository = resolve(dirname(source), raw.repository);
  if (!isDirectory(repository)) {
    warnings.push({ path: 'repository', message: `${repository} is not a directory; nothing can be served until it exists` });
  }
  if (raw.mirrors.length > 0 && raw.mirrors.every((m) => !m.enabled)) {
    warnings.push({ path: 'mirrors', message: 'every mirror is disabled; all files are served from the repository' });
  }
  if (problems.length > 0) return { ok: false, problems };
  const config: Config = {
    source,
    repository,
    smallFileBytes: raw.smallFileBytes,
    fallbackUrl,
    trustProxy: raw.trustProxy,
    rateLimit: raw.rateLimit,
    catalog: raw.catalog,
    counters: raw.counters,
    probe: raw.probe,
    mirrors: mirrors as Mirror[],
  };
  return { ok: true, config: deepFreeze(config), warnings };
}

export function formatProblems(problems: readonly Problem[]): string {
  return problems.map((p) => `  ${p.path}: ${p.message}`).join('\n');
}

/** Parses "10.0.0.0/8", "::1/128" or a bare address into a BlockList entry; undefined when malformed. */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', prefixText, extra] = text.split('/');
  const version = isIP(address);
  if (version === 0 || extra !== undefined) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText ?? String(max)) || prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

export function blockListOf(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const text of cidrs) {
    const cidr = parseCidr(text);
    if (cidr) list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  return list;
}

function checkMirror(m: RawMirror, i: number, problems: Problem[]): Mirror {
  const at = `mirrors[${i}]`;
  const url = checkBaseUrl(m.url, `${at}.url`, problems) ?? m.url;
  if (m.country !== undefined && !isCountry(m.country)) {
    problems.push({ path: `${at}.country`, message: `"${m.country}" is not an ISO 3166-1 alpha-2 country code (upper case, e.g. "DE")` });
  }
  if (m.continent !== undefined && !isContinent(m.continent)) {
    problems.push({ path: `${at}.continent`, message: `"${m.continent}" is not a continent code (AF, AN, AS, EU, NA, OC, SA)` });
  }
  if ((m.latitude === undefined) !== (m.longitude === undefined)) {
    problems.push({ path: `${at}.${m.latitude === undefined ? 'latitude' : 'longitude'}`, message: 'latitude and longitude go together' });
  }
  const continent = m.continent !== undefined && isContinent(m.continent)
    ? m.continent
    : m.country !== undefined ? continentOf(m.country) : undefined;
  return {
    index: i,
    name: m.name,
    url,
    weight: m.weight,
    bandwidthMbps: m.bandwidthMbps,
    country: m.country,
    continent,
    latitude: m.latitude,
    longitude: m.longitude,
    enabled: m.enabled,
  };
}

/** An absolute http(s) URL without query, fragment or credentials, normalised to end in '/'. */
function checkBaseUrl(text: string, path: string, problems: Problem[]): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    problems.push({ path, message: `"${text}" is not an absolute URL` });
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    problems.push({ path, message: `"${text}" must use http or https, not ${url.protocol.slice(0, -1)}` });
    return undefined;
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    problems.push({ path, message: `"${text}" must not carry a query, fragment or credentials` });
    return undefined;
  }
  return url.href.endsWith('/') ? url.href : `${url.href}/`;
}

function shapeProblem(e: ErrorObject): Problem {
  const base = pointerToPath(e.instancePath);
  const join = (key: string) => (base === '(root)' ? key : `${base}.${key}`);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: join(String(params.additionalProperty)), message: 'unknown key' };
    case 'required':
      return { path: join(String(params.missingProperty)), message: 'is required' };
    case 'type':
      return { path: base, message: `must be ${String(params.type)}` };
    case 'pattern':
      return { path: base, message: 'may contain only letters, digits, ".", "_" and "-" (at most 64, starting with a letter or digit)' };
    default:
      return { path: base, message: e.message ?? e.keyword };
  }
}

/** `/mirrors/0/weight` → `mirrors[0].weight`. */
function pointerToPath(pointer: string): string {
  if (pointer === '') return '(root)';
  return pointer.slice(1).split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc === '' ? part : `${acc}.${part}`), '');
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
