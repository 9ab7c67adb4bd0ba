import type { Command } from '../io.js';
import { parseFlags } from '../args.js';
import { resolveSettings, SETTING_ENV, DEFAULTS } from '../../settings.js';
import { availableParallelism } from 'node:os';
import { startServer } from '../../server.js';
import { startCluster } from '../../cluster.js';
import { errors } from '../../errors.js';
import { readAdminToken, TOKEN_ENV, TOKEN_FILE_ENV } from '../../http/admin-access.js';

export const serve: Command = {
  name: 'serve',
  summary: 'run the redirector',
  help: `Usage: mirrorgate serve [options]

Answers downloads with a 302 to a mirror; serves small files itself. Reloads mirrors.json when it changes
or on SIGHUP (which also rescans the repository); flushes counters and exits on SIGTERM or SIGINT.

Options (environment variable in brackets):
  --config FILE       mirrors.json to use (${SETTING_ENV.config}; default ${DEFAULTS.config})
  --db FILE           SQLite database (${SETTING_ENV.db}; default ${DEFAULTS.db})
  --host ADDR         address to listen on (${SETTING_ENV.host}; default ${DEFAULTS.host}; use 0.0.0.0 or :: for all)
  --port N            port (${SETTING_ENV.port}; default ${DEFAULTS.port})
  --log-level LEVEL   fatal|error|warn|info|debug|trace|silent (${SETTING_ENV.logLevel}; default ${DEFAULTS.logLevel})
  --instance NAME     this instance's name among those sharing cluster.redis (${SETTING_ENV.instance};
                      default: the host name)
  --workers N|auto    processes serving the port (MIRRORGATE_WORKERS; default 1; auto = one per core).
                      With N > 1 a primary process does the probing, scanning and hashing once for all.
  --admin-token-file FILE
                      bearer token for the operator endpoints from outside admin.allow
                      (${TOKEN_FILE_ENV}, or the token itself in ${TOKEN_ENV}; default: none)
`,
  async run(args, io) {
    const { values } = parseFlags(args, {
      host: { type: 'string' }, port: { type: 'string' }, 'log-level': { type: 'string' }, workers: { type: 'string' },
      'admin-token-file': { type: 'string' }, instance: { type: 'string' },
    });
    const settings = resolveSettings({ ...values, logLevel: values['log-level'] }, io.env);
    const workers = parseWorkers(values.workers ?? io.env.MIRRORGATE_WORKERS ?? '1');
    const adminToken = await readAdminToken(values['admin-token-file'], io.env);
    const running = workers > 1 ? await startCluster(settings, workers, adminToken) : await startServer(settings, { adminToken });
    await running.closed;
    return 0;
  },
};

function parseWorkers(text: string): number {
  if (text === 'auto') return availableParallelism();
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    throw new errors.MG_ERR_SETTINGS_INVALID(`--workers / MIRRORGATE_WORKERS: "${text}" is not a number of processes (1-256) or auto`);
  }
  return n;
}
