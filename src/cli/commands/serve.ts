import type { Command } from '../io.js';
import { parseFlags } from '../args.js';
import { resolveSettings, SETTING_ENV, DEFAULTS } from '../../settings.js';
import { startServer } from '../../server.js';

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
`,
  async run(args, io) {
    const { values } = parseFlags(args, { host: { type: 'string' }, port: { type: 'string' }, 'log-level': { type: 'string' } });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    const settings = resolveSettings({ ...values, logLevel: values['log-level'] }, io.env);
    const server = await startServer(settings);
    await server.closed;
    return 0;
  },
};
