// buildApp(): a Fastify instance wired to a Runtime, never listening. server.ts listens; tests inject().
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';
import rateLimit, { type RateLimitPluginOptions } from '@fastify/rate-limit';
import { openRedis } from './sharing/connect.js';
import { Keys } from './sharing/keys.js';
import { Runtime, type RuntimeOptions } from './runtime/runtime.js';
import { downloadRoutes } from './routes/download.js';
import { adminRoutes } from './routes/admin.js';
import { clientOf } from './http/client.js';
import { windowStore } from './http/rate-limit-store.js';
import { clientKey } from './http/ip.js';
import { ConnectionGuard, TIMEOUT_CHECK_MS } from './http/connections.js';
import type { SharedCounts } from './http/rate-share.js';
import { PACKAGE_ROOT } from './paths.js';
import { silentLog, type Log } from './log.js';
import { buildRegistry } from './metrics/registry.js';
import { AccessLog } from './http/access-log.js';
import type { Registry } from 'prom-client';

export interface AppOptions extends Omit<RuntimeOptions, 'log'> {
  /** Where the app logs; silent when absent (tests). */
  readonly log?: Log;
  /** Uniform [0, 1) source for selection; injected by tests. */
  readonly random?: () => number;
  /** Under --workers N: the other workers' counts, so the rate limit holds for the whole server. */
  readonly rateShare?: SharedCounts;
  /** Bearer token for the operator endpoints (from the environment or a file); undefined = allowed networks only. */
  readonly adminToken?: string;
  /** Under --workers N: the whole server's metrics, from the primary. Default: this process's registry. */
  readonly metricsText?: () => Promise<string>;
}

declare module 'fastify' {
  interface FastifyInstance {
    mirrorgate: Runtime;
    connections: ConnectionGuard;
    metrics: Registry;
    accessLog: AccessLog | undefined;
  }
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const log = options.log ?? silentLog;
  const runtime = await Runtime.start({ ...options, log: log.child({ component: 'runtime' }) });
  try {
    return await buildHttp(runtime, options, log);
  } catch (err) {
    await runtime.close(); // no loops, watchers or open database left behind
    throw err;
  }
}

async function buildHttp(runtime: Runtime, options: AppOptions, log: Log): Promise<FastifyInstance> {
  const app = Fastify({
    // Fastify gets no logger: with one it builds a child logger and hangs 'finish' and 'error' listeners
    // on every response, about a tenth of a redirect's cost, for per-request lines the hot path never
    // writes. The app logs through its own pino (server.ts); errors reach it by the handler below.
    logger: false,
    // Repository paths are often longer than find-my-way's default of 100 characters per parameter.
    routerOptions: { maxParamLength: 4096 },
    return503OnClosing: true,
    // A URL Fastify cannot decode gets the same plain answer as one our path rules refuse.
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      if (error.code === 'FST_ERR_BAD_URL') return reply.code(400).type('text/plain').send('Bad Request: bad-encoding\n');
      return reply.send(error);
    },
    // Timeouts are set from the config by ConnectionGuard; Node checks them this often.
    http: { connectionsCheckingInterval: TIMEOUT_CHECK_MS },
  });
  app.decorate('mirrorgate', runtime);
  const connections = new ConnectionGuard(app.server, () => runtime);
  app.decorate('connections', connections);
  // The access log is on when the config names a file at start: only then does the download route get
  // the hook that writes it (a hook costs every request something, even one that returns at once).
  const accessLog = runtime.config.accessLog.file === undefined ? undefined : new AccessLog(() => runtime.config.accessLog.file, log.child({ component: 'access-log' }));
  app.decorate('accessLog', accessLog);
  app.addHook('onClose', () => accessLog?.close());
  const metrics = buildRegistry(runtime, runtime.role, options.processLabel ?? 'main', { connections, accessLog });
  app.decorate('metrics', metrics);
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 500) log.error({ err: error, method: request.method, url: request.url }, 'request failed');
    // Sent on to Fastify's default handler, which answers with the usual JSON error body.
    return reply.send(error);
  });
  // Plain text like every other answer, also when a file vanishes between the stat and the send.
  app.setNotFoundHandler((_request, reply) => reply.code(404).type('text/plain').send('Not Found\n'));
  app.decorateRequest('mgClient', null);
  app.decorateRequest('mgBytes', 0);
  app.addHook('onClose', () => runtime.close());

  const limiter = await rateLimitStore(runtime, options, log);
  app.addHook('onClose', () => limiter.close());
  await app.register(rateLimit, {
    global: true,
    // Read per request, so a reload applies at once; a disabled limiter allows everything. Every
    // option given as a function costs the plugin an await per request, hence no allowList.
    max: () => (runtime.config.rateLimit.enabled ? runtime.config.rateLimit.max : Infinity),
    ...limiter.options,
    keyGenerator: (request) => clientKey(clientOf(request, runtime.trusted).address, runtime.config.rateLimit.ipv6PrefixLength),
    // The x-ratelimit-* headers on every answer cost more than a redirect's own work; a 429 still has them.
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
  });
  // serve: false — files are sent only by the download route, and only catalog files.
  await app.register(fastifyStatic, { root: PACKAGE_ROOT, serve: false });
  adminRoutes(app, runtime, options.adminToken, options.metricsText ?? (() => metrics.metrics()));
  downloadRoutes(app, runtime, options.random ?? Math.random, accessLog);
  return app;
}

const RATE_LIMIT_CONNECT_WAIT_MS = 2000;

/**
 * Where the rate limiter counts: in this process (across --workers through the primary), or with
 * cluster.sharedRateLimit in Redis for every instance, through the plugin's own Redis store. That one
 * costs a Redis round trip per request; a Redis that is away or slower than 100 ms lets the request
 * through (skipOnError) rather than failing it. Chosen at start.
 */
async function rateLimitStore(runtime: Runtime, options: AppOptions, log: Log): Promise<{ options: Partial<RateLimitPluginOptions>; close(): void }> {
  const cluster = runtime.config.cluster;
  if (cluster.redis === undefined || !cluster.sharedRateLimit) {
    return { options: { store: windowStore(() => runtime.config.rateLimit.windowSeconds * 1000, Date.now, options.rateShare) }, close: () => undefined };
  }
  const redis = openRedis(cluster, 'ratelimit', log.child({ component: 'rate-limit' }), { commandTimeout: 100, lazyConnect: true });
  // Connected before the first request when Redis is there (a start with Redis away waits at most this long).
  await Promise.race([redis.connect().catch(() => undefined), new Promise((r) => setTimeout(r, RATE_LIMIT_CONNECT_WAIT_MS).unref())]);
  return {
    options: { redis, nameSpace: new Keys(cluster.keyPrefix).rateLimit, skipOnError: true, timeWindow: runtime.config.rateLimit.windowSeconds * 1000 },
    close: () => redis.disconnect(),
  };
}
