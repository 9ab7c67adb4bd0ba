// Flag parsing for every subcommand: node's parseArgs, strict, with the shared --config/--db flags.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { errors } from '../errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export const COMMON_OPTIONS = {
  config: { type: 'string' },
  db: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export function parseFlags<O extends Options>(args: string[], options: O, positionals = 0) {
  try {
    const parsed = parseArgs({ args, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: positionals > 0, strict: true });
    if (parsed.positionals.length > positionals) {
      throw new Error(`unexpected argument "${parsed.positionals[positionals] ?? ''}"`);
    }
    return parsed;
  } catch (err) {
    throw new errors.MG_ERR_CLI_USAGE(`${(err as Error).message} (see --help)`);
  }
}
