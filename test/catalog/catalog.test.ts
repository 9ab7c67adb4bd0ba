import t from 'tap';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDb, readMeta, statement } from '../../src/db/open.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { Hasher } from '../../src/catalog/hasher.js';
import { silentLog } from '../../src/log.js';
import { makeFixture, writeFiles } from '../helper.js';

t.test('scan indexes files, persists them and reports differences', async (t) => {
  const fx = makeFixture(t, { files: { 'a.iso': 5000, 'dir/b.iso': 10, '.rsync-tmp': 3, '.git/config': 3 } });
  symlinkSync('a.iso', join(fx.repository, 'latest.iso'));
  symlinkSync('dir', join(fx.repository, 'dir-link'));
  const { db } = openDb(fx.dbPath);
  t.teardown(() => db.close());
  const catalog = new Catalog(db);
  const first = await catalog.scan(fx.repository);
  t.match(first, { files: 3, added: 3, changed: 0, removed: 0 });
  t.match(catalog.lookup('a.iso'), { size: 5000 });
  t.match(catalog.lookup('latest.iso'), { size: 5000 }, 'a symlink to a file is a file');
  t.equal(catalog.lookup('dir-link/b.iso'), undefined, 'symlinked directories are not followed');
  t.equal(catalog.lookup('.rsync-tmp'), undefined, 'dotfiles are skipped');

  writeFiles(fx.repository, { 'dir/b.iso': 20, 'c.iso': 1 });
  rmSync(join(fx.repository, 'a.iso'));
  const second = await catalog.scan(fx.repository);
  t.match(second, { files: 2, added: 1, changed: 1, removed: 2 }, 'latest.iso dangles now and is gone too');

  const reloaded = new Catalog(db);
  reloaded.load();
  t.same([...reloaded.entries()].map((e) => e.path).sort(), ['c.iso', 'dir/b.iso']);
  t.match(reloaded.lookup('dir/b.iso'), { size: 20 });
});

t.test('another process scanning bumps catalog_version and a running catalog reloads', async (t) => {
  const fx = makeFixture(t, { files: { 'a.iso': 10 } });
  const { db } = openDb(fx.dbPath);
  const { db: other } = openDb(fx.dbPath);
  t.teardown(() => { db.close(); other.close(); });
  const serving = new Catalog(db);
  await serving.scan(fx.repository);
  t.notOk(serving.follow(), 'its own scan is no reason to reload');
  writeFiles(fx.repository, { 'new.iso': 10 });
  await new Catalog(other).scan(fx.repository);
  t.ok(serving.follow());
  t.ok(serving.lookup('new.iso'));
});

t.test('sha256 is computed in the background and cached by (path, size, mtime)', async (t) => {
  const fx = makeFixture(t, { files: { 'a.iso': 5000, 'b.iso': 7000 } });
  const { db } = openDb(fx.dbPath);
  t.teardown(() => db.close());
  const catalog = new Catalog(db);
  await catalog.scan(fx.repository);
  const hasher = new Hasher(db, catalog, () => fx.repository, () => 2, silentLog);
  hasher.kick();
  await hasher.idle();
  const sha = (path: string) => (statement(db, 'SELECT sha256 FROM files WHERE path = ?').get(path) as { sha256: string | null }).sha256;
  const expected = createHash('sha256').update(readFileSync(join(fx.repository, 'a.iso'))).digest('hex');
  t.equal(sha('a.iso'), expected);

  const before = sha('b.iso');
  await catalog.scan(fx.repository);
  t.equal(sha('b.iso'), before, 'an unchanged file keeps its hash');
  writeFileSync(join(fx.repository, 'a.iso'), 'changed');
  await catalog.scan(fx.repository);
  t.equal(sha('a.iso'), null, 'a changed file loses its hash');
  hasher.kick();
  await hasher.idle();
  t.equal(sha('a.iso'), createHash('sha256').update('changed').digest('hex'));
  await hasher.stop();
});

t.test('a missing repository is an error, and the catalog keeps what it had', async (t) => {
  const fx = makeFixture(t, { files: { 'a.iso': 10 } });
  const { db } = openDb(fx.dbPath);
  t.teardown(() => db.close());
  const catalog = new Catalog(db);
  await catalog.scan(fx.repository);
  await t.rejects(catalog.scan(join(fx.dir, 'nope')), { code: 'ENOENT' });
  t.ok(catalog.lookup('a.iso'));
  t.ok(readMeta(db, 'catalog_version'));
});

t.test('an aborted scan ends at once and changes nothing', async (t) => {
  const fx = makeFixture(t, { files: Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`d${i % 30}/f${i}.iso`, 10])) });
  const { db } = openDb(fx.dbPath);
  t.teardown(() => db.close());
  const catalog = new Catalog(db);
  const stop = new AbortController();
  const scanning = catalog.scan(fx.repository, stop.signal);
  stop.abort();
  await t.rejects(scanning, { code: 'ABORT_ERR' });
  t.equal(catalog.size, 0);
  await t.rejects(catalog.scan(fx.repository, stop.signal), { code: 'ABORT_ERR' }, 'an already aborted signal does not start a walk');
});

t.test('memoize: a test per file, remembered until the catalog changes', async (t) => {
  const fx = makeFixture(t, { files: { 'a/Release': 10, 'a/big.iso': 10 } });
  const { db } = openDb(fx.dbPath);
  t.teardown(() => db.close());
  const catalog = new Catalog(db);
  await catalog.scan(fx.repository);
  const asked: string[] = [];
  const isRelease = catalog.memoize((path) => {
    asked.push(path);
    return path.endsWith('/Release');
  });
  const release = catalog.lookup('a/Release');
  const iso = catalog.lookup('a/big.iso');
  if (release === undefined || iso === undefined) throw new Error('not scanned');
  for (let i = 0; i < 3; i++) {
    t.equal(isRelease(release), true);
    t.equal(isRelease(iso), false);
  }
  t.same(asked.sort(), ['a/Release', 'a/big.iso'], 'each file tested once');

  await catalog.scan(fx.repository);
  t.equal(catalog.lookup('a/Release'), release, 'a rescan that finds no change keeps the entry');
  t.equal(isRelease(catalog.lookup('a/Release') as NonNullable<typeof release>), true);
  t.equal(asked.length, 2, 'and its mark');
  writeFiles(fx.repository, { 'a/Release': 11, 'b/Release': 1 });
  await catalog.scan(fx.repository);
  const moved = catalog.lookup('b/Release');
  t.equal(isRelease(moved as NonNullable<typeof moved>), true);
  const changed = catalog.lookup('a/Release');
  t.not(changed, release, 'a changed copy is a new entry');
  t.equal(isRelease(changed as NonNullable<typeof changed>), true);
  t.equal(isRelease({ path: 'x/big.iso', size: 1, mtimeMs: 0, ctimeMs: 0 }), false, 'an entry not from the catalog is tested each time');
  t.equal(asked.filter((p) => p === 'a/Release').length, 2, 'the new copy is tested again');
});

t.test('hashes reach memory, piece hashes the db, and a following process both', async (t) => {
  const fx = makeFixture(t, { files: { 'a.iso': 600_000, 'b.iso': 100 } });
  writeFileSync(join(fx.repository, 'a.iso'), Buffer.from(Array.from({ length: 600_000 }, (_, i) => (i * 7) % 251)));
  const { db } = openDb(fx.dbPath);
  t.teardown(() => db.close());
  const catalog = new Catalog(db);
  await catalog.scan(fx.repository);
  const { db: other } = openDb(fx.dbPath);
  t.teardown(() => other.close());
  const follower = new Catalog(other);
  follower.load();
  t.equal(follower.sha256Of(follower.lookup('a.iso')!), undefined, 'nothing hashed yet');

  const hasher = new Hasher(db, catalog, () => fx.repository, () => 2, silentLog);
  hasher.kick();
  await hasher.idle();
  const content = readFileSync(join(fx.repository, 'a.iso'));
  const hex = createHash('sha256').update(content).digest('hex');
  const entry = catalog.lookup('a.iso')!;
  t.equal(catalog.sha256Of(entry), hex, 'in memory at once');
  t.equal(catalog.digestOf(entry), Buffer.from(hex, 'hex').toString('base64'));
  const pieces = catalog.piecesOf(entry);
  t.equal(pieces?.pieceBytes, 262144);
  t.same(pieces?.hashes, [0, 1, 2].map((i) => createHash('sha256').update(content.subarray(i * 262144, (i + 1) * 262144)).digest('hex')));

  follower.follow(); // the change log names the path; its row brings the hash
  t.equal(follower.sha256Of(follower.lookup('a.iso')!), hex, 'and the hash with it');
  const reloaded = new Catalog(other);
  reloaded.load();
  t.equal(reloaded.sha256Of(reloaded.lookup('a.iso')!), hex, 'a restart loads it');

  // A new copy has no hash until it is read again; the old one is never served as the new one's.
  writeFileSync(join(fx.repository, 'a.iso'), 'changed');
  await catalog.scan(fx.repository);
  t.equal(catalog.sha256Of(catalog.lookup('a.iso')!), undefined);
  t.equal(catalog.piecesOf(catalog.lookup('a.iso')!), undefined);
  t.equal(catalog.sha256Of({ ...entry }), undefined, 'an entry of the old copy gets nothing');
});
