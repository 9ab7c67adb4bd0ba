// Numbered SQL files in migrations/ (NNN_name.sql), applied in order, each in its own transaction together
// with the bump of PRAGMA user_version, so a failed migration leaves the database at the previous version.
import { readdirSync, readFileSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { errors } from '../errors.js';
import { MIGRATIONS_DIR } from '../paths.js';
import { statement } from './statements.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export interface MigrationReport {
  readonly from: number;
  readonly to: number;
  readonly applied: readonly string[];
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d+_[\w-]+\.sql$/.test(f))
    .map((f) => ({ version: Number.parseInt(f, 10), name: f, sql: readFileSync(`${dir}/${f}`, 'utf8') }))
    .sort((a, b) => a.version - b.version);
}

export function schemaVersion(db: Database.Database): number {
  return statement(db, 'PRAGMA user_version').pluck().get() as number;
}

export function migrate(db: Database.Database, label: string, migrations = listMigrations()): MigrationReport {
  const from = schemaVersion(db);
  const latest = migrations.at(-1)?.version ?? 0;
  if (from > latest) throw new errors.MG_ERR_DB_TOO_NEW(label, from, latest);
  const applied: string[] = [];
  for (const m of migrations) {
    if (m.version <= from) continue;
    try {
      db.transaction(() => {
        db.exec(m.sql);
        db.exec(`PRAGMA user_version = ${m.version}`);
      })();
    } catch (err) {
      throw new errors.MG_ERR_DB_MIGRATION(m.name, (err as Error).message);
    }
    applied.push(m.name);
  }
  return { from, to: schemaVersion(db), applied };
}
