import type { Command } from '../io.js';
import { parseFlags } from '../args.js';
import { resolveSettings } from '../../settings.js';
import { openDb } from '../../db/open.js';

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'bring the database schema up to date',
  help: `Usage: mirrorgate migrate [--db FILE]

Applies the numbered SQL files in migrations/ that the database has not seen, each in its own
transaction. serve does the same at start; run this before an upgrade to see what changes.
Refuses a database written by a newer mirrorgate.
`,
  async run(args, io) {
    const { values } = parseFlags(args, {});
    const { db: file } = resolveSettings(values, io.env);
    const { db, migrations } = openDb(file);
    db.close();
    if (migrations.applied.length === 0) io.stdout(`${file}: schema version ${migrations.to}, up to date\n`);
    else io.stdout(`${file}: schema version ${migrations.from} → ${migrations.to} (applied ${migrations.applied.join(', ')})\n`);
    return 0;
  },
};
