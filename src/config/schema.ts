// The shape of mirrors.json. This TypeBox source is the single truth: the TypeScript types, the Ajv
// validator and the published mirrors.schema.json (npm run gen-schema) all come from it.
import { Type, type Static } from '@sinclair/typebox';

const MirrorSchema = Type.Object({
  name: Type.String({
    pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
    description: 'Unique name: letters, digits, ".", "_", "-"; shown in headers, stats and logs',
  }),
  url: Type.String({ minLength: 1, description: 'Absolute http(s) URL of the mirror\'s copy of the repository root' }),
  weight: Type.Number({ exclusiveMinimum: 0, default: 100, description: 'Relative share of traffic' }),
  bandwidthMbps: Type.Number({ exclusiveMinimum: 0, default: 1000, description: 'Declared uplink capacity in Mbit/s' }),
  country: Type.Optional(Type.String({ description: 'ISO 3166-1 alpha-2 code, upper case' })),
  continent: Type.Optional(Type.String({ description: 'AF, AN, AS, EU, NA, OC or SA; derived from country if omitted' })),
  latitude: Type.Optional(Type.Number({ minimum: -90, maximum: 90 })),
  longitude: Type.Optional(Type.Number({ minimum: -180, maximum: 180 })),
  asn: Type.Optional(Type.Integer({ minimum: 1, maximum: 4294967295, description: 'Autonomous system the mirror is in; clients in it prefer it' })),
  enabled: Type.Boolean({ default: true, description: 'false keeps the mirror configured but sends it nothing' }),
  countryOnly: Type.Boolean({ default: false, description: 'Serve only clients in `countries` (default: the mirror\'s own country)' }),
  countries: Type.Array(Type.String(), { default: [], description: 'With countryOnly: the countries served' }),
  continentOnly: Type.Boolean({ default: false, description: 'Serve only clients on the mirror\'s continent' }),
  excludeCountries: Type.Array(Type.String(), { default: [], description: 'Never serve clients in these countries' }),
  https: Type.Optional(Type.Boolean({
    description: 'Serves https; default: true when url is https. With an http url, true means https clients get the https form of url',
  })),
  ipv6: Type.Boolean({ default: true, description: 'Reachable over IPv6; IPv6 clients prefer such mirrors' }),
  timestampFile: Type.Optional(Type.String({
    minLength: 1, description: 'Path (relative to url) of a file holding the time of the mirror\'s last complete sync',
  })),
  probePath: Type.Optional(Type.String({ minLength: 1, description: 'Catalog path to HEAD for health; default: an old small catalog file' })),
}, { additionalProperties: false });

export const ConfigSchema = Type.Object({
  $schema: Type.Optional(Type.String()),
  repository: Type.String({
    minLength: 1, default: './repository',
    description: 'The master copy of the files, relative to this config file',
  }),
  smallFileBytes: Type.Integer({
    minimum: 0, default: 4096,
    description: 'Files smaller than this are served directly instead of redirected',
  }),
  fallbackUrl: Type.Optional(Type.String({
    description: 'Where to redirect when no mirror is eligible; omitted = serve from the repository',
  })),
  trustProxy: Type.Array(Type.String(), {
    default: ['127.0.0.1/32', '::1/128'],
    description: 'CIDRs of reverse proxies whose X-Forwarded-For / Forwarded headers are believed',
  }),
  rateLimit: Type.Object({
    enabled: Type.Boolean({ default: true }),
    max: Type.Integer({ minimum: 1, default: 1200, description: 'Requests per client address per window, for the whole server (all workers)' }),
    windowSeconds: Type.Integer({ minimum: 1, default: 60 }),
    ipv6PrefixLength: Type.Integer({
      minimum: 16, maximum: 128, default: 64,
      description: 'IPv6 clients are counted per network of this prefix length (a home or a host usually gets a whole /64)',
    }),
  }, { additionalProperties: false, default: {} }),
  http: Type.Object({
    headersTimeoutMs: Type.Integer({ minimum: 500, default: 10000, description: 'A request\'s headers must arrive within this' }),
    requestTimeoutMs: Type.Integer({ minimum: 500, default: 30000, description: 'A whole request (headers and any body) must arrive within this' }),
    keepAliveTimeoutMs: Type.Integer({ minimum: 100, default: 5000, description: 'An idle keep-alive connection is closed after this' }),
    idleTimeoutMs: Type.Integer({
      minimum: 1000, default: 60000, description: 'A connection with no traffic either way for this long is closed (a stalled download of a local file too)',
    }),
    maxConnections: Type.Integer({
      minimum: 0, default: 0,
      description: 'Connections open at once; 0 = as many as the open-file limit allows, less what probes, checks and the database need',
    }),
    maxConnectionsPerClient: Type.Integer({
      minimum: 0, default: 128,
      description: 'Connections open at once from one client address (IPv6: one rateLimit.ipv6PrefixLength network); trusted proxies are exempt; 0 = no cap',
    }),
  }, { additionalProperties: false, default: {} }),
  admin: Type.Object({
    allow: Type.Array(Type.String(), {
      default: ['127.0.0.1/32', '::1/128'],
      description: 'CIDRs whose clients may use the operator endpoints without a token (the client address as resolved through trustProxy)',
    }),
  }, { additionalProperties: false, default: {} }),
  catalog: Type.Object({
    rescanSeconds: Type.Integer({
      minimum: 0, default: 300,
      description: 'How often the repository is rescanned for changes; 0 = only at start, on SIGHUP and `mirrorgate scan`',
    }),
    hashConcurrency: Type.Integer({ minimum: 0, default: 1, description: 'Files hashed (sha256) at once in the background; 0 = off' }),
    watch: Type.Boolean({
      default: true,
      description: 'Watch the repository (inotify, one watch per directory) so changes reach the catalog within a second; the rescan stays as a safety net',
    }),
  }, { additionalProperties: false, default: {} }),
  counters: Type.Object({
    enabled: Type.Boolean({ default: true, description: 'false: count nothing (for measuring what counting costs)' }),
    flushIntervalMs: Type.Integer({ minimum: 100, maximum: 60000, default: 1000 }),
    downloadsFlushIntervalMs: Type.Integer({
      minimum: 100, maximum: 600000, default: 10000,
      description: 'How often download statistics (per file and country) are written: each flush writes one row per file downloaded since the last, so a longer interval writes the same popular file once',
    }),
    minuteRetentionHours: Type.Integer({ minimum: 1, default: 48 }),
    hourRetentionDays: Type.Integer({ minimum: 1, default: 400 }),
  }, { additionalProperties: false, default: {} }),
  accessLog: Type.Object({
    file: Type.Optional(Type.String({
      minLength: 1,
      description: 'Write one line per answered download to this file (relative to this file), asynchronously; reopened on SIGUSR1 (logrotate). Default: no access log. Turning it on or off takes a restart; a new path applies on reload',
    })),
  }, { additionalProperties: false, default: {} }),
  geoip: Type.Object({
    enabled: Type.Boolean({ default: true, description: 'false: no locality, every client gets the global weighted choice' }),
    city: Type.Array(Type.String(), {
      default: [],
      description: 'City MMDB files (DB-IP/ip-location-db or MaxMind GeoIP2/GeoLite2 City layout), relative to this file; empty = the shipped DB-IP Lite',
    }),
    asn: Type.Optional(Type.String({ description: 'ASN MMDB file (MaxMind GeoLite2 ASN or ip-location-db asn layout); optional' })),
    cacheSize: Type.Integer({ minimum: 1, default: 100000, description: 'Addresses whose location is kept in memory' }),
  }, { additionalProperties: false, default: {} }),
  probe: Type.Object({
    enabled: Type.Boolean({ default: true, description: 'false: no probes; every enabled mirror counts as up and holding every file' }),
    intervalSeconds: Type.Integer({ minimum: 1, default: 30 }),
    timeoutMs: Type.Integer({ minimum: 100, default: 3000 }),
    failuresToDown: Type.Integer({ minimum: 1, default: 3 }),
    successesToUp: Type.Integer({ minimum: 1, default: 2 }),
    maxBackoffSeconds: Type.Integer({ minimum: 1, default: 300, description: 'Longest wait between probes of a mirror that is down' }),
    concurrency: Type.Integer({ minimum: 1, default: 16, description: 'Probes in flight at once' }),
    capacityEveryRounds: Type.Integer({ minimum: 0, default: 10, description: 'Measure throughput every N health rounds; 0 = never' }),
    capacityBytes: Type.Integer({ minimum: 1024, default: 1048576, description: 'Bytes fetched by a throughput probe' }),
  }, { additionalProperties: false, default: {} }),
  freshness: Type.Object({
    youngFileSeconds: Type.Integer({ minimum: 0, default: 3600, description: 'Files younger than this are re-checked every youngRecheckSeconds' }),
    youngRecheckSeconds: Type.Integer({ minimum: 1, default: 300 }),
    oldRecheckSeconds: Type.Integer({ minimum: 1, default: 21600 }),
    queueSize: Type.Integer({ minimum: 1, default: 10000, description: 'Pending per-file checks; more are dropped and asked again later' }),
    concurrency: Type.Integer({ minimum: 1, default: 8 }),
    contentCheckBytes: Type.Integer({
      minimum: 0, default: 1048576,
      description: 'Files up to this size (and every volatile file) are verified by the sha256 of the mirror\'s whole copy; larger ones by sampled byte ranges',
    }),
    sampleBytes: Type.Integer({ minimum: 512, maximum: 1048576, default: 4096, description: 'Bytes in each sampled range of a large file' }),
    samples: Type.Integer({ minimum: 0, maximum: 16, default: 2, description: 'Ranges drawn at random offsets per check, besides the head and the tail' }),
    checkBytesPerHour: Type.Integer({
      minimum: 0, default: 1073741824,
      description: 'What content checks may download from one mirror per hour; 0 = no limit. Past it, checks wait',
    }),
    firstRequestWaitMs: Type.Integer({
      minimum: 0, maximum: 10000, default: 400,
      description: 'How long a request for a large file with no verified mirror waits for a check of the best candidates; 0 = never wait',
    }),
    firstRequestRecheckSeconds: Type.Integer({
      minimum: 1, default: 15,
      description: 'A mirror found missing or stale longer ago than this is checked again by a first request (a mirror that synced since)',
    }),
    firstRequestCandidates: Type.Integer({ minimum: 1, maximum: 10, default: 3, description: 'Mirrors checked for such a request, in this client\'s order' }),
    urgentChecks: Type.Integer({ minimum: 1, default: 64, description: 'First-request checks in flight at once; past it requests do not wait' }),
  }, { additionalProperties: false, default: {} }),
  clients: Type.Object({
    alternates: Type.Integer({
      minimum: 0, maximum: 20, default: 3,
      description: 'A redirect carries `Link: rel=duplicate` (RFC 6249) for this many next best mirrors after the chosen one, in this client\'s order; 0 = no Link headers',
    }),
    digests: Type.Boolean({ default: true, description: 'Send Repr-Digest (RFC 9530) and Digest (RFC 3230) with a file\'s sha-256 once it is hashed' }),
    metalinkMirrors: Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Mirrors listed at most in a Metalink document and on a mirror list page' }),
    listings: Type.Boolean({ default: true, description: 'Generated index pages for directories without an index.html' }),
    publicUrl: Type.Optional(Type.String({
      description: 'This server\'s own base URL, for the repository\'s entry in Metalink documents; default: from the request\'s Host',
    })),
  }, { additionalProperties: false, default: {} }),
  volatile: Type.Array(Type.String({ minLength: 1 }), {
    default: ['Release', 'Release.gpg', 'InRelease', 'Packages*', 'Sources*', 'repomd.xml', 'repomd.xml.asc', '*.sha256', 'SHA256SUMS*', '*.sha256sum'],
    description: 'Glob patterns of files whose content changes under a fixed name; without "/" they match the file name',
  }),
  volatileMaxAgeSeconds: Type.Integer({ minimum: 0, default: 60, description: 'Volatile files go only to mirrors verified this recently' }),
  scheduler: Type.Union([Type.Literal('weighted'), Type.Literal('round-robin'), Type.Literal('least-loaded')], { default: 'weighted' }),
  capacity: Type.Object({
    windowSeconds: Type.Integer({ minimum: 1, maximum: 3600, default: 60, description: 'Sliding window of bytes sent that utilisation is measured over' }),
    floor: Type.Number({ minimum: 0.01, maximum: 1, default: 0.1, description: 'Effective capacity never falls below this fraction of bandwidthMbps' }),
  }, { additionalProperties: false, default: {} }),
  cluster: Type.Object({
    redis: Type.Optional(Type.String({
      minLength: 1,
      description: 'Share probing, load and counters with the other instances through this Redis: redis://[user@]host:port[/db], or rediss:// for TLS. Default: none, every instance on its own. Takes a restart',
    })),
    passwordFile: Type.Optional(Type.String({ minLength: 1, description: 'File (relative to this file) holding the Redis password; wins over one in the URL' })),
    passwordEnv: Type.String({
      minLength: 1, default: 'MIRRORGATE_REDIS_PASSWORD',
      description: 'Environment variable holding the Redis password, when no passwordFile is given and it is set',
    }),
    tlsCaFile: Type.Optional(Type.String({ minLength: 1, description: 'With rediss://: CA bundle (PEM, relative to this file) to verify the server with; default: the system\'s' })),
    keyPrefix: Type.String({
      minLength: 1, maxLength: 64, default: 'mirrorgate:',
      description: 'Prefix of every Redis key and channel: one Redis can serve several mirror networks',
    }),
    leaseSeconds: Type.Integer({
      minimum: 2, maximum: 3600, default: 15,
      description: 'A mirror\'s probe lease lasts this long unless renewed (every second); another instance takes over probing within it after its holder dies',
    }),
    fallbackSeconds: Type.Integer({
      minimum: 1, maximum: 600, default: 3,
      description: 'Redis unreachable this long: the instance probes every mirror itself and uses its own load estimates until Redis answers again',
    }),
    sharedRateLimit: Type.Boolean({
      default: false,
      description: 'Count rateLimit across all instances in Redis (one Redis round trip per request; fails open when Redis is down). Default: per instance',
    }),
  }, { additionalProperties: false, default: {} }),
  mirrors: Type.Array(MirrorSchema, { default: [] }),
}, { additionalProperties: false });

export type RawConfig = Static<typeof ConfigSchema>;
export type RawMirror = Static<typeof MirrorSchema>;
