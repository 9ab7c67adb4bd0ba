// buildApp(): a Fastify instance wired to a Runtime, never listening. server.ts listens; tests inject().
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import fastifyStatic from '@fastify/static';
import rateLimit from '@fastify/rate-limit';
import { Runtime, type RuntimeOptions } from './runtime/runtime.js';
import { downloadRoutes } from './routes/download.js';
import { adminRoutes } from './routes/admin.js';
import { clientOf } from './http/client.js';
import { PACKAGE_ROOT } from './paths.js';
import type { Log } from './log.js';

export interface AppOptions extends Omit<RuntimeOptions, 'log'> {
  readonly logger?: FastifyServerOptions['logger'];
  /** Uniform [0, 1) source for selection; injected by tests. */
  readonly random?: () => number;
}

declare module 'fastify' {
  interface FastifyInstance {
    mirrorgate: Runtime;
  }
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    // Repository paths are often longer than find-my-way's default of 100 characters per parameter.
    routerOptions: { maxParamLength: 4096 },
    // No per-request log lines on the hot path; counters and metrics say what happened.
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request child logger either: creating one costs about 8% of a redirect, and the hot path
    // logs nothing (errors still reach the log, without a request id).
    childLoggerFactory: (logger) => logger,
    return503OnClosing: true,
  });
  const runtime = await Runtime.start({ ...options, log: app.log.child({ component: 'runtime' }) as Log });
  app.decorate('mirrorgate', runtime);
  app.decorateRequest('mgClient', null);
  app.addHook('onClose', () => runtime.close());

  await app.register(rateLimit, {
    global: true,
    max: () => runtime.config.rateLimit.max,
    timeWindow: runtime.config.rateLimit.windowSeconds * 1000,
    keyGenerator: (request) => clientOf(request, runtime.trusted).address,
    allowList: () => !runtime.config.rateLimit.enabled,
    // The x-ratelimit-* headers on every answer cost more than a redirect's own work; a 429 still has them.
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
  });
  // serve: false — files are sent only by the download route, and only catalog files.
  await app.register(fastifyStatic, { root: PACKAGE_ROOT, serve: false });
  adminRoutes(app, runtime);
  downloadRoutes(app, runtime, options.random ?? Math.random);
  return app;
}
