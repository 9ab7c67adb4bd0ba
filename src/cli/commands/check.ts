import type { Command } from '../io.js';
import { parseFlags } from '../args.js';
import { resolveSettings } from '../../settings.js';
import { formatProblems, loadConfigFile } from '../../config/load.js';

export const check: Command = {
  name: 'check',
  summary: 'validate mirrors.json and print every problem',
  help: `Usage: mirrorgate check [--config FILE]

Validates the config against its schema and checks its meaning (unique names, http(s) URLs, weights,
ISO country and continent codes, coordinates, proxy CIDRs). Prints every problem with its JSON path.
Exit status: 0 when valid (warnings are printed but do not fail), 1 when not.
`,
  async run(args, io) {
    const { values } = parseFlags(args, {});
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
    if (result.warnings.length > 0) io.stderr(`${file}: warnings:\n${formatProblems(result.warnings)}\n`);
    const enabled = result.config.mirrors.filter((m) => m.enabled).length;
    io.stdout(`${file}: ok (${result.config.mirrors.length} mirrors, ${enabled} enabled)\n`);
    return 0;
  },
};
