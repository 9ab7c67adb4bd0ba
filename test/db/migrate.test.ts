import t from 'tap';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDb, statement } from '../../src/db/open.js';
import { listMigrations, migrate, schemaVersion } from '../../src/db/migrate.js';
import { tempDir } from '../helper.js';

const dir = tempDir(t, 'db');
const latest = listMigrations().at(-1)?.version ?? 0;

t.test('a fresh database gets every migration, in WAL mode', async (t) => {
  const { db, migrations } = openDb(join(dir, 'fresh.db'));
  t.teardown(() => db.close());
  t.equal(migrations.from, 0);
  t.equal(migrations.to, latest);
  t.same(migrations.applied, listMigrations().map((m) => m.name));
  t.equal(statement(db, 'PRAGMA journal_mode').pluck().get(), 'wal');
  t.ok(statement(db, "SELECT name FROM sqlite_master WHERE name = 'counter_minutes'").get());
});

t.test('reopening applies nothing', async (t) => {
  openDb(join(dir, 'again.db')).db.close();
  const { db, migrations } = openDb(join(dir, 'again.db'));
  db.close();
  t.same(migrations.applied, []);
  t.equal(migrations.from, latest);
});

t.test('an upgrade applies only the newer migrations, each in its own transaction', async (t) => {
  const mdir = join(dir, 'migrations');
  mkdirSync(mdir);
  writeFileSync(join(mdir, '001_a.sql'), 'CREATE TABLE a (x INTEGER);');
  const db = new Database(join(dir, 'upgrade.db'));
  t.teardown(() => db.close());
  t.same(migrate(db, 'upgrade.db', listMigrations(mdir)).applied, ['001_a.sql']);
  writeFileSync(join(mdir, '002_b.sql'), 'CREATE TABLE b (y INTEGER);');
  writeFileSync(join(mdir, '003_broken.sql'), 'CREATE TABLE c (z INTEGER); THIS IS NOT SQL;');
  t.throws(() => migrate(db, 'upgrade.db', listMigrations(mdir)), { code: 'MG_ERR_DB_MIGRATION', message: /003_broken/ });
  t.equal(schemaVersion(db), 2, 'stopped after the last good migration');
  t.notOk(statement(db, "SELECT name FROM sqlite_master WHERE name = 'c'").get(), 'the broken one left nothing behind');
});

t.test('a database newer than the code is refused with a clear message', async (t) => {
  const file = join(dir, 'newer.db');
  const raw = new Database(file);
  raw.exec(`PRAGMA user_version = ${latest + 5}`);
  raw.close();
  t.throws(() => openDb(file), { code: 'MG_ERR_DB_TOO_NEW', message: /schema version \d+ but this mirrorgate knows only up to \d+/ });
});
