// Opens the SQLite database (WAL, so the CLI can read while the server writes) and brings its schema up
// to date from migrations/. Every other module gets the handle from here.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrate, type MigrationReport } from './migrate.js';

export type Db = Database.Database;

export interface OpenOptions {
  /** Apply pending migrations (the default). The CLI's read-only commands still migrate: a fresh db is fine. */
  readonly migrate?: boolean;
}

export function openDb(file: string, options: OpenOptions = {}): { db: Db; migrations: MigrationReport } {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('synchronous = NORMAL');
    const migrations = options.migrate === false ? { from: 0, to: 0, applied: [] } : migrate(db, file);
    return { db, migrations };
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Statements compiled once per connection and kept as long as it. */
const statements = new WeakMap<Db, Map<string, Database.Statement>>();

/**
 * `db.prepare(sql)`, compiled once per connection and kept for its lifetime. Besides saving the compile,
 * this keeps statements from being garbage collected one by one: better-sqlite3 12 on Node 24 can abort
 * the process (`RemoveEnvironmentCleanupHook: (env) != nullptr`) when a statement's finalizer runs in
 * some collections. A statement used with `.raw()` or `.pluck()` keeps that mode: give it its own SQL.
 */
export function statement(db: Db, sql: string): Database.Statement {
  let map = statements.get(db);
  if (map === undefined) {
    map = new Map();
    statements.set(db, map);
  }
  let stmt = map.get(sql);
  if (stmt === undefined) {
    stmt = db.prepare(sql);
    map.set(sql, stmt);
  }
  return stmt;
}

export function readMeta(db: Db, key: string): string | undefined {
  const row = statement(db, 'SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
  return row?.value;
}

export function writeMeta(db: Db, key: string, value: string): void {
  statement(db, 'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
}
