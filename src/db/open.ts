// Opens the SQLite database (WAL, so the CLI can read while the server writes) and brings its schema up
// to date from migrations/. Every other module gets the handle from here.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrate, type MigrationReport } from './migrate.js';
import { statement } from './statements.js';

export { statement } from './statements.js';

export type Db = Database.Database;

export interface OpenOptions {
  /** Apply pending migrations (the default). The CLI's read-only commands still migrate: a fresh db is fine. */
  readonly migrate?: boolean;
}

export function openDb(file: string, options: OpenOptions = {}): { db: Db; migrations: MigrationReport } {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  try {
    // Not db.pragma(): each call makes a statement for the GC to finalize (see statement()).
    statement(db, 'PRAGMA journal_mode = WAL').get();
    statement(db, 'PRAGMA busy_timeout = 5000').get();
    statement(db, 'PRAGMA synchronous = NORMAL').run();
    const migrations = options.migrate === false ? { from: 0, to: 0, applied: [] } : migrate(db, file);
    return { db, migrations };
  } catch (err) {
    db.close();
    throw err;
  }
}

export function readMeta(db: Db, key: string): string | undefined {
  const row = statement(db, 'SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
  return row?.value;
}

export function writeMeta(db: Db, key: string, value: string): void {
  statement(db, 'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
}
