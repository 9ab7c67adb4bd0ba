// Opens the SQLite database (WAL, so the CLI can read while the server writes) and brings its schema up
// to date from migrations/. Every other module gets the handle from here.
import Database from 'better-sqlite3';
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrate, type MigrationReport } from './migrate.js';
import { statement, retireStatements } from './statements.js';

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

/**
 * A database file that is watched for being deleted or replaced under the running process (an operator's
 * `rm`, a restore from backup). SQLite keeps writing to the open, unlinked inode, so every count would be
 * lost without a word. `db` stays the same object for every module that holds it; reopen() points it at
 * a new connection to whatever file is at the path now, migrated.
 */
export class DbFile {
  readonly db: Db;
  /** What opening the file at start migrated. */
  readonly migrations: MigrationReport;
  private current: Db;
  private identity: string;

  constructor(readonly file: string) {
    const opened = openDb(file);
    this.current = opened.db;
    this.migrations = opened.migrations;
    this.identity = identityOf(file);
    const self = this;
    // Every property and method is the current connection's, bound to it (native methods check `this`).
    this.db = new Proxy(opened.db, {
      get(_target, prop) {
        const value: unknown = Reflect.get(self.current, prop, self.current);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(self.current) : value;
      },
    });
  }

  /** 'missing' or 'replaced' when the path no longer names the file that is open; undefined when it does. */
  changed(): 'missing' | 'replaced' | undefined {
    if (this.file === ':memory:') return undefined;
    const now = identityOf(this.file);
    if (now === this.identity) return undefined;
    return now === '' ? 'missing' : 'replaced';
  }

  /**
   * Opens (creating and migrating) whatever is at the path now, and retires the old connection; `carry`
   * may first copy rows from the old connection (which still reads a deleted file) to the new one.
   */
  reopen(carry?: (from: Db, to: Db) => void): MigrationReport {
    const opened = openDb(this.file);
    const old = this.current;
    carry?.(old, opened.db);
    retireStatements(this.db);
    retireStatements(old);
    this.current = opened.db;
    this.identity = identityOf(this.file);
    try {
      old.close();
    } catch { /* the old file may be gone or broken: nothing to keep */ }
    return opened.migrations;
  }

  close(): void {
    this.current.close();
  }
}

function identityOf(file: string): string {
  try {
    const s = statSync(file);
    return `${s.dev}:${s.ino}`;
  } catch {
    return '';
  }
}
