import type { Command } from '../io.js';
import { parseFlags } from '../args.js';
import { resolveSettings } from '../../settings.js';
import { loadConfigOrThrow } from '../../config/load.js';
import { openDb, statement, writeMeta } from '../../db/open.js';
import { Catalog } from '../../catalog/catalog.js';
import { Hasher } from '../../catalog/hasher.js';

export const scan: Command = {
  name: 'scan',
  summary: 'index the repository into the catalog now',
  help: `Usage: mirrorgate scan [--config FILE] [--db FILE] [--hash]

Walks the repository named in the config and updates the catalog in the database. A running server
notices the change within a second and reloads its catalog. With --hash, also computes the sha256 of
every file whose size or mtime changed (otherwise the server does that in the background).
`,
  async run(args, io) {
    const { values } = parseFlags(args, { hash: { type: 'boolean' } });
    const settings = resolveSettings(values, io.env);
    const config = await loadConfigOrThrow(settings.config);
    const { db } = openDb(settings.db);
    try {
      const catalog = new Catalog(db);
      catalog.load();
      const report = await catalog.scan(config.repository);
      writeMeta(db, 'catalog_root', config.repository);
      io.stdout(`${config.repository}: ${report.files} files (${report.added} added, ${report.changed} changed, `
        + `${report.removed} removed) in ${report.ms} ms\n`);
      if (values.hash) {
        const log = { warn: (o: object, m: string) => io.stderr(`${m}: ${JSON.stringify(o)}\n`), debug: () => {} };
        const hasher = new Hasher(db, catalog, () => config.repository, () => Math.max(1, config.catalog.hashConcurrency), log);
        hasher.kick();
        await hasher.idle();
        const { n } = statement(db, 'SELECT COUNT(*) AS n FROM files WHERE sha256 IS NOT NULL').get() as { n: number };
        io.stdout(`sha256 known for ${n} of ${report.files} files\n`);
      }
    } finally {
      db.close();
    }
    return 0;
  },
};
