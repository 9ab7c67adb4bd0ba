// buildApp(): a Fastify instance wired to a Runtime, never listening. server.ts listens; tests inject().
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import rateLimit from '@fastify/rate-limit';
import { Runtime, type RuntimeOptions } from './runtime/runtime.js';
import { downloadRoutes } from './routes/download.js';
import { adminRoutes } from './routes/admin.js';
import { clientOf } from './http/client.js';
import { windowStore } from './http/rate-limit-store.js';
import { PACKAGE_ROOT } from './paths.js';
import { silentLog, type Log } from './log.js';

export interface AppOptions extends Omit<RuntimeOptions, 'log'> {
  /** Where the app logs; silent when absent (tests). */
  readonly log?: Log;
  /** Uniform [0, 1) source for selection; injected by tests. */
  readonly random?: () => number;
}

declare module 'fastify' {
  interface FastifyInstance {
    mirrorgate: Runtime;
  }
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const log = options.log ?? silentLog;
  const app = Fastify({
    // Fastify gets no logger: with one it builds a child logger and hangs 'finish' and 'error' listeners
    // on every response, about a tenth of a redirect's cost, for per-request lines the hot path never
    // writes. The app logs through its own pino (server.ts); errors reach it by the handler below.
    logger: false,
    // Repository paths are often longer than find-my-way's default of 100 characters per parameter.
    routerOptions: { maxParamLength: 4096 },
    return503OnClosing: true,
  });
  const runtime = await Runtime.start({ ...options, log: log.child({ component: 'runtime' }) });
  app.decorate('mirrorgate', runtime);
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 500) log.error({ err: error, method: request.method, url: request.url }, 'request failed');
    // Sent on to Fastify's default handler, which answers with the usual JSON error body.
    return reply.send(error);
  });
  app.decorateRequest('mgClient', null);
  app.addHook('onClose', () => runtime.close());

  await app.register(rateLimit, {
    global: true,
    // Read per request, so a reload applies at once; a disabled limiter allows everything. Every
    // option given as a function costs the plugin an await per request, hence no allowList.
    max: () => (runtime.config.rateLimit.enabled ? runtime.config.rateLimit.max : Infinity),
    store: windowStore(() => runtime.config.rateLimit.windowSeconds * 1000),
    keyGenerator: (request) => clientOf(request, runtime.trusted).address,
    // The x-ratelimit-* headers on every answer cost more than a redirect's own work; a 429 still has them.
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
  });
  // serve: false — files are sent only by the download route, and only catalog files.
  await app.register(fastifyStatic, { root: PACKAGE_ROOT, serve: false });
  adminRoutes(app, runtime);
  downloadRoutes(app, runtime, options.random ?? Math.random);
  return app;
}
