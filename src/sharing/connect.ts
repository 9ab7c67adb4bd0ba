// Connections to the cluster's Redis (cluster.redis), made with ioredis. Every connection fails fast
// instead of queueing: a command sent while Redis is away errors at once (no offline queue), and one
// that Redis does not answer errors after COMMAND_TIMEOUT_MS. Whoever sends it keeps what it must send
// and tries again later, so nothing ever waits on a Redis that is gone. Reconnecting is ioredis's own,
// every RETRY_MAX_MS at most; its errors are logged once a minute per connection.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config/load.js';
import type { Log } from '../log.js';

const COMMAND_TIMEOUT_MS = 2000;
const CONNECT_TIMEOUT_MS = 2000;
const RETRY_MAX_MS = 1000;
const LOG_EVERY_MS = 60_000;

export type ClusterConfig = Config['cluster'];

/** ioredis options for cluster.redis: the URL's host, port, user and database; TLS for rediss://. */
export function redisOptions(cluster: ClusterConfig, env: NodeJS.ProcessEnv = process.env): RedisOptions & { host: string; port: number } {
  const url = new URL(cluster.redis ?? 'redis://127.0.0.1:6379');
  const tls = url.protocol === 'rediss:';
  const db = Number(url.pathname.replace('/', '') || '0');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return {
    host,
    port: Number(url.port || (tls ? 6380 : 6379)),
    username: url.username === '' ? undefined : decodeURIComponent(url.username),
    password: passwordOf(cluster, url, env),
    db,
    // SNI names a host, never an address (RFC 6066); an address is still checked against the certificate.
    ...(tls ? { tls: { ...(isIP(host) === 0 ? { servername: host } : {}), ...(cluster.tlsCaFile === undefined ? {} : { ca: readFileSync(cluster.tlsCaFile) }) } } : {}),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: (times) => Math.min(times * 100, RETRY_MAX_MS),
    lazyConnect: false,
  };
}

/** The password: passwordFile (trailing newline dropped), else the environment variable, else the URL's. */
function passwordOf(cluster: ClusterConfig, url: URL, env: NodeJS.ProcessEnv): string | undefined {
  if (cluster.passwordFile !== undefined) return readFileSync(cluster.passwordFile, 'utf8').replace(/\r?\n$/, '');
  const fromEnv = env[cluster.passwordEnv];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return url.password === '' ? undefined : decodeURIComponent(url.password);
}

/** Where the config points, with any password left out: for logs and errors. */
export function redisAddress(cluster: ClusterConfig): string {
  const url = new URL(cluster.redis ?? 'redis://127.0.0.1:6379');
  return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
}

/** A connection named `what` in logs; its errors are logged at most once a minute. */
export function openRedis(cluster: ClusterConfig, what: string, log: Log, extra: RedisOptions = {}): Redis {
  const redis = new Redis({ ...redisOptions(cluster), ...extra, connectionName: `mirrorgate-${what}` });
  let loggedAt = -Infinity;
  let errorsSince = 0;
  redis.on('error', (err: Error) => {
    errorsSince += 1;
    const now = Date.now();
    if (now - loggedAt < LOG_EVERY_MS) return;
    loggedAt = now;
    log.warn({ redis: redisAddress(cluster), connection: what, err: err.message, errors: errorsSince }, 'redis connection error; retrying');
    errorsSince = 0;
  });
  return redis;
}
