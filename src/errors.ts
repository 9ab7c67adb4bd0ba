// Every coded error mirrorgate raises, in one place. docs/errors.md documents each code; a test checks that.
import createError from '@fastify/error';

export const errors = {
  MG_ERR_CONFIG_READ: createError<'MG_ERR_CONFIG_READ', [string, string]>(
    'MG_ERR_CONFIG_READ', 'cannot read config %s: %s'),
  MG_ERR_CONFIG_JSON: createError<'MG_ERR_CONFIG_JSON', [string, string]>(
    'MG_ERR_CONFIG_JSON', 'config %s is not valid JSON: %s'),
  MG_ERR_CONFIG_INVALID: createError<'MG_ERR_CONFIG_INVALID', [string, string]>(
    'MG_ERR_CONFIG_INVALID', 'config %s is invalid:\n%s'),
  MG_ERR_SETTINGS_INVALID: createError<'MG_ERR_SETTINGS_INVALID', [string]>(
    'MG_ERR_SETTINGS_INVALID', 'invalid process setting: %s'),
  MG_ERR_DB_TOO_NEW: createError<'MG_ERR_DB_TOO_NEW', [string, number, number]>(
    'MG_ERR_DB_TOO_NEW',
    'database %s has schema version %d but this mirrorgate knows only up to %d; upgrade mirrorgate or use another --db'),
  MG_ERR_DB_MIGRATION: createError<'MG_ERR_DB_MIGRATION', [string, string]>(
    'MG_ERR_DB_MIGRATION', 'migration %s failed: %s'),
  MG_ERR_DB_MISSING: createError<'MG_ERR_DB_MISSING', [string]>(
    'MG_ERR_DB_MISSING',
    'no database at %s: give the server\'s --db (or MIRRORGATE_DB); the default is ./mirrorgate.db in the directory the server was started from'),
  MG_ERR_CLUSTER_UNREACHABLE: createError<'MG_ERR_CLUSTER_UNREACHABLE', [string, string]>(
    'MG_ERR_CLUSTER_UNREACHABLE', 'cannot read the cluster totals from redis at %s: %s'),
  MG_ERR_CLUSTER_NONE: createError<'MG_ERR_CLUSTER_NONE', [string]>(
    'MG_ERR_CLUSTER_NONE', '--cluster: %s is not a valid config that sets cluster.redis (`mirrorgate check` says what is wrong with it), so there are no cluster totals to read; this instance\'s own are shown without --cluster'),
  MG_ERR_CLI_USAGE: createError<'MG_ERR_CLI_USAGE', [string]>('MG_ERR_CLI_USAGE', '%s'),
} as const;

export type ErrorCode = keyof typeof errors;

/** True for the errors above: the CLI prints their message alone, without a stack. */
export function isMirrorgateError(err: unknown): err is Error & { code: ErrorCode } {
  const code: unknown = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && Object.hasOwn(errors, code);
}
