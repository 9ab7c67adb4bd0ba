// Process entry for `mirrorgate serve`: logger, listen, signals, graceful close. SIGTERM/SIGINT close
// (in-flight requests finish, counters are flushed); SIGHUP re-reads mirrors.json and rescans.
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp, type AppOptions } from './app.js';
import type { Log } from './log.js';
import type { Settings } from './settings.js';
import type { RuntimeOptions } from './runtime/runtime.js';

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly url: string;
  /** Resolves when the server has closed after a signal or close(). */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

export async function startServer(
  settings: Settings,
  cluster: Pick<RuntimeOptions, 'role' | 'workers' | 'requestCheck' | 'requestUrgent'> & Pick<AppOptions, 'rateShare' | 'adminToken' | 'metricsText' | 'processLabel'> = {},
): Promise<RunningServer> {
  const log = pino({ level: settings.logLevel }) as unknown as Log;
  const app = await buildApp({ configPath: settings.config, dbPath: settings.db, log, instance: settings.instance, ...cluster });
  let closing: Promise<void> | undefined;
  let markClosed = () => {};
  const closed = new Promise<void>((resolve) => { markClosed = resolve; });
  const close = () => (closing ??= app.close().finally(() => {
    removeSignals();
    markClosed();
  }));
  const onStop = (signal: string) => {
    log.info({ signal }, 'shutting down');
    void close();
  };
  const onHup = () => {
    log.info({ signal: 'SIGHUP' }, 'reloading config and rescanning');
    void app.mirrorgate.reload();
    app.mirrorgate.rescan().catch(() => undefined);
  };
  // logrotate's postrotate: the access log goes on in a new file at its path.
  const onUsr1 = () => app.accessLog?.reopen();
  const onTerm = () => onStop('SIGTERM');
  const onInt = () => onStop('SIGINT');
  const removeSignals = () => {
    process.off('SIGTERM', onTerm).off('SIGINT', onInt).off('SIGHUP', onHup).off('SIGUSR1', onUsr1);
  };
  process.on('SIGTERM', onTerm).on('SIGINT', onInt).on('SIGHUP', onHup).on('SIGUSR1', onUsr1);
  let url: string;
  try {
    url = await app.listen({ host: settings.host, port: settings.port });
    for (const address of app.addresses()) {
      if (typeof address === 'string') continue; // unix sockets: never configured
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      log.info({}, `Server listening at http://${host}:${address.port}`);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { app, url, closed, close };
}
