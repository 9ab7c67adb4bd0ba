// mirrors.json → validated, defaulted, frozen Config. Two passes: the schema (shape, types, unknown keys),
// then meaning (unique names, URLs, ISO codes, CIDRs). Every problem names its JSON path. Never exits.
import { accessSync, constants, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isIP } from 'node:net';
import { Ajv, type ErrorObject } from 'ajv';
import { ConfigSchema, type RawConfig, type RawMirror } from './schema.js';
import { continentOf, isContinent, isCountry, type Continent } from './countries.js';
import { errors } from '../errors.js';
import { jsonLines, lineOf, syntaxErrorLine } from './json-lines.js';

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
  readonly asn: number | undefined;
  readonly enabled: boolean;
  /** When set, only clients in these countries are served. */
  readonly onlyCountries: readonly string[] | undefined;
  readonly continentOnly: boolean;
  readonly excludeCountries: readonly string[];
  /** Base URL for clients that came over https; undefined for an http-only mirror. */
  readonly httpsUrl: string | undefined;
  readonly ipv6: boolean;
  readonly timestampFile: string | undefined;
  readonly probePath: string | undefined;
}

/** The base URL a client gets for this mirror: the https one when it came over https and there is one. */
export function mirrorBase(mirror: Mirror, https: boolean): string {
  return https && mirror.httpsUrl !== undefined ? mirror.httpsUrl : mirror.url;
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
  readonly http: Readonly<RawConfig['http']>;
  readonly admin: { readonly allow: readonly string[] };
  readonly catalog: Readonly<RawConfig['catalog']>;
  readonly counters: Readonly<RawConfig['counters']>;
  /** The access log's absolute path; undefined = none. */
  readonly accessLog: { readonly file: string | undefined };
  readonly probe: Readonly<RawConfig['probe']>;
  readonly freshness: Readonly<RawConfig['freshness']>;
  readonly clients: Readonly<Omit<RawConfig['clients'], 'publicUrl'>> & { readonly publicUrl: string | undefined };
  readonly volatile: readonly string[];
  readonly volatileMaxAgeSeconds: number;
  readonly scheduler: RawConfig['scheduler'];
  readonly capacity: Readonly<RawConfig['capacity']>;
  /** Sharing with other instances through Redis; `redis` undefined = none. Paths are absolute. */
  readonly cluster: Readonly<RawConfig['cluster']>;
  /** sha256 of the file's bytes (hex): instances of one cluster compare it to find config drift. */
  readonly digest: string;
  readonly geoip: {
    readonly enabled: boolean;
    /** Absolute paths; the shipped DB-IP Lite files when the config names none. */
    readonly city: readonly string[] | 'shipped';
    readonly asn: string | undefined;
    readonly cacheSize: number;
  };
  readonly mirrors: readonly Mirror[];
}

export interface Problem {
  /** JSON path of the offending value, e.g. `mirrors[2].weight`; `(root)` for the document. */
  readonly path: string;
  readonly message: string;
  /** The line of the file it is on (of the enclosing object, for a missing key). */
  readonly line?: number;
}

export type ConfigResult =
  | { readonly ok: true; readonly config: Config; readonly warnings: readonly Problem[] }
  | { readonly ok: false; readonly problems: readonly Problem[] };

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
const validateShape = ajv.compile<RawConfig>(ConfigSchema);

/** The largest config accepted: a thousand mirrors take about 500 KB. */
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

/**
 * Reads and validates a config file, off the event loop. Throws only when the file cannot be read (or
 * is not a regular file, or is larger than MAX_CONFIG_BYTES) or is not JSON.
 */
export async function loadConfigFile(file: string): Promise<ConfigResult> {
  const source = resolve(file);
  const text = await readConfigText(source);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new errors.MG_ERR_CONFIG_JSON(source, syntaxErrorLine((err as Error).message, text));
  }
  const result = validateConfig(doc, source, createHash('sha256').update(text).digest('hex'));
  const lines = jsonLines(text);
  const located = (problems: readonly Problem[]) => problems.map((p) => ({ ...p, line: lineOf(lines, p.path) }));
  return result.ok ? { ...result, warnings: located(result.warnings) } : { ok: false, problems: located(result.problems) };
}

/**
 * The file's text. Opened without blocking (a FIFO named mirrors.json must not hang a thread until
 * something writes into it), then refused unless it is a regular file of bounded size.
 */
async function readConfigText(source: string): Promise<string> {
  let handle;
  try {
    handle = await open(source, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new errors.MG_ERR_CONFIG_READ(source, (err as Error).message);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new errors.MG_ERR_CONFIG_READ(source, 'not a regular file');
    if (info.size > MAX_CONFIG_BYTES) {
      throw new errors.MG_ERR_CONFIG_READ(source, `${info.size} bytes is more than the ${MAX_CONFIG_BYTES} a config may have`);
    }
    const buffer = Buffer.alloc(info.size + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    // Grown while read: an editor is still writing; the watcher will see the next change.
    if (length > info.size) throw new errors.MG_ERR_CONFIG_READ(source, 'the file grew while it was read');
    return buffer.toString('utf8', 0, length);
  } catch (err) {
    if ((err as { code?: string }).code === 'MG_ERR_CONFIG_READ') throw err;
    throw new errors.MG_ERR_CONFIG_READ(source, (err as Error).message);
  } finally {
    await handle.close();
  }
}

/** Like loadConfigFile, but a bad config is an error too (its message lists every problem). */
export async function loadConfigOrThrow(file: string): Promise<Config> {
  const result = await loadConfigFile(file);
  if (!result.ok) throw new errors.MG_ERR_CONFIG_INVALID(resolve(file), formatProblems(result.problems));
  return result.config;
}

export function validateConfig(doc: unknown, source: string, digest = ''): ConfigResult {
  const raw = structuredClone(doc);
  const shapeOk = validateShape(raw);
  const problems: Problem[] = shapeOk ? [] : (validateShape.errors ?? []).map(shapeProblem);
  // Meaning is checked even when the shape is wrong, so one run reports every problem.
  const meaning = checkMeaning(raw, problems);
  if (!shapeOk || problems.length > 0 || meaning === undefined) return { ok: false, problems };
  const warnings: Problem[] = [];
  const repository = resolve(dirname(source), meaning.raw.repository);
  if (!isDirectory(repository)) {
    warnings.push({ path: 'repository', message: `${repository} is not a directory; nothing can be served until it exists` });
  }
  if (meaning.mirrors.length > 0 && meaning.mirrors.every((m) => !m.enabled)) {
    warnings.push({ path: 'mirrors', message: 'every mirror is disabled; all files are served from the repository' });
  }
  const { raw: cfg } = meaning;
  const config: Config = {
    source,
    repository,
    smallFileBytes: cfg.smallFileBytes,
    fallbackUrl: meaning.fallbackUrl,
    trustProxy: cfg.trustProxy,
    rateLimit: cfg.rateLimit,
    http: cfg.http,
    admin: cfg.admin,
    catalog: cfg.catalog,
    counters: cfg.counters,
    accessLog: { file: cfg.accessLog.file === undefined ? undefined : resolve(dirname(source), cfg.accessLog.file) },
    probe: cfg.probe,
    freshness: cfg.freshness,
    clients: { ...cfg.clients, publicUrl: meaning.publicUrl },
    volatile: cfg.volatile,
    volatileMaxAgeSeconds: cfg.volatileMaxAgeSeconds,
    scheduler: cfg.scheduler,
    capacity: cfg.capacity,
    cluster: {
      ...cfg.cluster,
      passwordFile: cfg.cluster.passwordFile === undefined ? undefined : resolve(dirname(source), cfg.cluster.passwordFile),
      tlsCaFile: cfg.cluster.tlsCaFile === undefined ? undefined : resolve(dirname(source), cfg.cluster.tlsCaFile),
    },
    digest,
    geoip: {
      enabled: cfg.geoip.enabled,
      city: cfg.geoip.city.length === 0 ? 'shipped' : cfg.geoip.city.map((f) => resolve(dirname(source), f)),
      asn: cfg.geoip.asn === undefined ? undefined : resolve(dirname(source), cfg.geoip.asn),
      cacheSize: cfg.geoip.cacheSize,
    },
    mirrors: meaning.mirrors,
  };
  const unreadable = [['cluster.passwordFile', config.cluster.passwordFile], ['cluster.tlsCaFile', config.cluster.tlsCaFile]]
    .flatMap(([path, file]) => (file === undefined || isReadable(file) ? [] : [{ path: path as string, message: `cannot read ${file}` }]));
  if (unreadable.length > 0) return { ok: false, problems: unreadable };
  return { ok: true, config: deepFreeze(config), warnings };
}

function isReadable(file: string): boolean {
  try {
    accessSync(file, constants.R_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Semantic checks, tolerant of a document whose shape is wrong (they skip what they cannot read). */
function checkMeaning(raw: unknown, problems: Problem[]): { raw: RawConfig; mirrors: Mirror[]; fallbackUrl: string | undefined; publicUrl: string | undefined } | undefined {
  if (!isRecord(raw)) return undefined;
  const rawMirrors = Array.isArray(raw.mirrors) ? raw.mirrors : [];
  const mirrors: Mirror[] = [];
  const seen = new Map<string, number>();
  rawMirrors.forEach((m: unknown, i) => {
    if (!isRecord(m)) return;
    mirrors.push(checkMirror(m as RawMirror, i, problems));
    if (typeof m.name !== 'string') return;
    const first = seen.get(m.name.toLowerCase());
    if (first !== undefined) problems.push({ path: `mirrors[${i}].name`, message: `duplicates the name of mirrors[${first}]` });
    else seen.set(m.name.toLowerCase(), i);
  });
  const cidrs = (list: unknown, at: string) => {
    if (!Array.isArray(list)) return;
    list.forEach((cidr: unknown, i) => {
      if (typeof cidr === 'string' && !parseCidr(cidr)) problems.push({ path: `${at}[${i}]`, message: `"${cidr}" is not an IP address or CIDR` });
    });
  };
  cidrs(raw.trustProxy, 'trustProxy');
  cidrs(isRecord(raw.admin) ? raw.admin.allow : undefined, 'admin.allow');
  if (isRecord(raw.http) && typeof raw.http.headersTimeoutMs === 'number' && typeof raw.http.requestTimeoutMs === 'number'
    && raw.http.headersTimeoutMs > raw.http.requestTimeoutMs) {
    problems.push({ path: 'http.headersTimeoutMs', message: 'must not be more than http.requestTimeoutMs' });
  }
  const cluster = raw.cluster as { redis?: unknown } | undefined;
  if (typeof cluster?.redis === 'string') checkRedisUrl(cluster.redis, problems);
  const fallbackUrl = typeof raw.fallbackUrl === 'string' ? checkBaseUrl(raw.fallbackUrl, 'fallbackUrl', problems) : undefined;
  const clients = raw.clients as { publicUrl?: unknown } | undefined;
  const publicUrl = typeof clients?.publicUrl === 'string' ? checkBaseUrl(clients.publicUrl, 'clients.publicUrl', problems) : undefined;
  return { raw: raw as RawConfig, mirrors, fallbackUrl, publicUrl };
}

function checkRedisUrl(text: string, problems: Problem[]): void {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    problems.push({ path: 'cluster.redis', message: `"${text}" is not a URL (redis://host:6379 or rediss://host:6380)` });
    return;
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    problems.push({ path: 'cluster.redis', message: `"${url.protocol}" is not redis: or rediss: (TLS)` });
  } else if (url.hostname === '') {
    problems.push({ path: 'cluster.redis', message: 'names no host' });
  } else if (url.pathname !== '' && url.pathname !== '/' && !/^\/\d{1,2}$/.test(url.pathname)) {
    problems.push({ path: 'cluster.redis', message: `"${url.pathname}" is not a database number (/0 to /15)` });
  }
}

export function formatProblems(problems: readonly Problem[]): string {
  return problems.map((p) => `  ${p.path}${p.line === undefined ? '' : ` (line ${p.line})`}: ${p.message}`).join('\n');
}

/** Parses "10.0.0.0/8", "::1/128" or a bare address into its parts; undefined when malformed. */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', prefixText, extra] = text.split('/');
  const version = isIP(address);
  if (version === 0 || extra !== undefined) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText ?? String(max)) || prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

function checkMirror(m: RawMirror, i: number, problems: Problem[]): Mirror {
  const at = `mirrors[${i}]`;
  const url = (typeof m.url === 'string' ? checkBaseUrl(m.url, `${at}.url`, problems) : undefined) ?? m.url;
  if (typeof m.country === 'string' && !isCountry(m.country)) {
    problems.push({ path: `${at}.country`, message: `"${m.country}" is not an ISO 3166-1 alpha-2 country code (upper case, e.g. "DE")` });
  }
  if (typeof m.continent === 'string' && !isContinent(m.continent)) {
    problems.push({ path: `${at}.continent`, message: `"${m.continent}" is not a continent code (AF, AN, AS, EU, NA, OC, SA)` });
  }
  if ((m.latitude === undefined) !== (m.longitude === undefined)) {
    problems.push({ path: `${at}.${m.latitude === undefined ? 'latitude' : 'longitude'}`, message: 'latitude and longitude go together' });
  }
  const continent = typeof m.continent === 'string' && isContinent(m.continent)
    ? m.continent
    : typeof m.country === 'string' ? continentOf(m.country) : undefined;
  const countryList = (key: 'countries' | 'excludeCountries') => {
    const list: unknown = m[key];
    if (!Array.isArray(list)) return [];
    list.forEach((c: unknown, j) => {
      if (typeof c === 'string' && !isCountry(c)) problems.push({ path: `${at}.${key}[${j}]`, message: `"${c}" is not an ISO 3166-1 alpha-2 country code` });
    });
    return list.filter((c): c is string => typeof c === 'string');
  };
  const countries = countryList('countries');
  const excludeCountries = countryList('excludeCountries');
  let onlyCountries: string[] | undefined;
  if (m.countryOnly === true) {
    onlyCountries = countries.length > 0 ? countries : typeof m.country === 'string' ? [m.country] : [];
    if (onlyCountries.length === 0) problems.push({ path: `${at}.countries`, message: 'countryOnly needs countries, or the mirror\'s own country' });
  } else if (countries.length > 0) {
    problems.push({ path: `${at}.countries`, message: 'has no effect without "countryOnly": true' });
  }
  if (m.continentOnly === true && continent === undefined) {
    problems.push({ path: `${at}.continentOnly`, message: 'needs the mirror\'s continent (or country)' });
  }
  const scheme = typeof m.url === 'string' && /^https:/i.test(m.url) ? 'https' : 'http';
  if (scheme === 'https' && m.https === false) {
    problems.push({ path: `${at}.https`, message: 'false contradicts an https url' });
  }
  const httpsUrl = scheme === 'https' ? url : m.https === true ? url.replace(/^http:/i, 'https:') : undefined;
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
    asn: m.asn,
    enabled: m.enabled,
    onlyCountries,
    continentOnly: m.continentOnly === true,
    excludeCountries,
    httpsUrl,
    ipv6: m.ipv6 !== false,
    timestampFile: typeof m.timestampFile === 'string' ? m.timestampFile.replace(/^\/+/, '') : undefined,
    probePath: typeof m.probePath === 'string' ? m.probePath.replace(/^\/+/, '') : undefined,
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
  const join = (key: string) => {
    const name = /^[A-Za-z0-9_$-]+$/.test(key) ? key : JSON.stringify(key); // "" and odd keys quoted
    return base === '(root)' ? name : `${base}.${name}`;
  };
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function isDirectory(path: string): boolean {
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
