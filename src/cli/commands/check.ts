import type { Command } from '../io.js';
import { parseFlags } from '../args.js';
import { resolveSettings } from '../../settings.js';
import { formatProblems, isDirectory, loadConfigFile } from '../../config/load.js';

export const check: Command = {
  name: 'check',
  summary: 'validate mirrors.json and print every problem',
  help: `Usage: mirrorgate check [--config FILE] [--allow-missing-repository]

Validates the config against its schema and checks its meaning (unique names, http(s) URLs, weights,
ISO country and continent codes, coordinates, proxy CIDRs). Prints every problem with its JSON path
and line. A repository directory that does not exist is a problem too (the server would serve nothing),
unless --allow-missing-repository says it will exist by the time the server starts.
Exit status: 0 when valid (warnings are printed but do not fail), 1 when not.
`,
  async run(args, io) {
    const { values } = parseFlags(args, { 'allow-missing-repository': { type: 'boolean' } });
    const { config: file } = resolveSettings(values, io.env);
    let result;
    try {
      result = await loadConfigFile(file);
    } catch (err) {
      io.stderr(`${(err as Error).message}\n`);
      return 1;
    }
    if (!result.ok) {
      io.stderr(`${file}: ${result.problems.length} problem(s):\n${formatProblems(result.problems)}\n`);
      return 1;
    }
    const repository = result.config.repository;
    if (!isDirectory(repository) && values['allow-missing-repository'] !== true) {
      io.stderr(`${file}: repository: ${repository} is not a directory (pass --allow-missing-repository if it will be created later)\n`);
      return 1;
    }
    if (result.warnings.length > 0) io.stderr(`${file}: warnings:\n${formatProblems(result.warnings)}\n`);
    const enabled = result.config.mirrors.filter((m) => m.enabled).length;
    io.stdout(`${file}: ok (${result.config.mirrors.length} mirrors, ${enabled} enabled)\n`);
    return 0;
  },
};
