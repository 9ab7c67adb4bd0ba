// Process settings (not in mirrors.json): flags first, then MIRRORGATE_* environment variables, then
// defaults. Validated like the config: a bad value is an error naming the flag and the variable.
import { hostname } from 'node:os';
import { errors } from './errors.js';

export interface Settings {
  readonly config: string;
  readonly db: string;
  readonly host: string;
  readonly port: number;
  readonly logLevel: LogLevel;
  /** This instance's name among the instances sharing one Redis (cluster.redis): in logs, metrics and the dashboard. */
  readonly instance: string;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const SETTING_ENV = {
  config: 'MIRRORGATE_CONFIG',
  db: 'MIRRORGATE_DB',
  host: 'MIRRORGATE_HOST',
  port: 'MIRRORGATE_PORT',
  logLevel: 'MIRRORGATE_LOG_LEVEL',
  instance: 'MIRRORGATE_INSTANCE',
} as const satisfies Record<keyof Settings, string>;

export const DEFAULTS: Settings = {
  config: './mirrors.json',
  db: './mirrorgate.db',
  host: '127.0.0.1',
  port: 8080,
  logLevel: 'info',
  instance: hostname(),
};

type Flags = Partial<Record<keyof Settings, string | undefined>>;

export function resolveSettings(flags: Flags, env: NodeJS.ProcessEnv): Settings {
  const pick = (key: keyof Settings): string => flags[key] ?? env[SETTING_ENV[key]] ?? String(DEFAULTS[key]);
  const port = Number(pick('port'));
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new errors.MG_ERR_SETTINGS_INVALID(`--port / ${SETTING_ENV.port}: "${pick('port')}" is not a port number (0-65535)`);
  }
  const logLevel = pick('logLevel');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new errors.MG_ERR_SETTINGS_INVALID(`--log-level / ${SETTING_ENV.logLevel}: "${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  }
  const instance = pick('instance');
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(instance)) {
    throw new errors.MG_ERR_SETTINGS_INVALID(`--instance / ${SETTING_ENV.instance}: "${instance}" is not a name of 1-64 letters, digits, ".", "_", ":" or "-"`);
  }
  return { config: pick('config'), db: pick('db'), host: pick('host'), port, logLevel: logLevel as LogLevel, instance };
}
