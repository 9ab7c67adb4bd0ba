// main(argv, io) → exit code. The only place, with bin.ts, that turns errors into exit statuses.
import type { Command, Io } from './io.js';
import { isMirrorgateError } from '../errors.js';
import { serve } from './commands/serve.js';
import { check } from './commands/check.js';
import { scan } from './commands/scan.js';
import { migrateCommand } from './commands/migrate.js';
import { stats } from './commands/stats.js';
import { mirrors } from './commands/mirrors.js';
import { explain } from './commands/explain.js';

export const COMMANDS: readonly Command[] = [serve, check, scan, migrateCommand, stats, mirrors, explain];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: mirrorgate <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run "mirrorgate <command> --help" for a command's options.
`;
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    io.stderr(`mirrorgate: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout(command.help);
    return 0;
  }
  try {
    return await command.run(args, io);
  } catch (err) {
    if (isMirrorgateError(err)) {
      io.stderr(`mirrorgate ${name}: ${err.message}\n`);
      return err.code === 'MG_ERR_CLI_USAGE' ? 2 : 1;
    }
    const { code, address, port } = err as { code?: string; address?: string; port?: number };
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      io.stderr(`mirrorgate ${name}: cannot listen on ${address ?? '?'}:${port ?? '?'} (${code}); choose another --host/--port\n`);
      return 1;
    }
    io.stderr(`mirrorgate ${name}: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}
