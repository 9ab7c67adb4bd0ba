// The catalog follows the repository as it changes: the watcher (real inotify on a temporary directory),
// the serve-time check when the watcher is off, and other processes following through catalog_changes.
import t from 'tap';
import { mkdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDb, statement } from '../../src/db/open.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { build, makeFixture, waitFor, writeConfig, DEFAULT_MIRRORS } from '../helper.js';

const WAIT = 10_000;

t.test('files added, replaced rsync-style, removed and moved in whole directories reach the catalog', async (t) => {
  const { app, fixture } = await build(t);
  const catalog = app.mirrorgate.catalog;
  t.ok(await waitFor(() => app.mirrorgate.watcher !== undefined && app.mirrorgate.watchReport !== undefined, WAIT), 'the watcher is set up');
  const repo = fixture.repository;

  writeFileSync(join(repo, 'releases/1.0/new.iso'), Buffer.alloc(9000, 1));
  t.ok(await waitFor(() => catalog.lookup('releases/1.0/new.iso')?.size === 9000, WAIT), 'a new file is added');

  // rsync: write a dot-temp next to the file, then rename it over the file
  writeFileSync(join(repo, 'releases/1.0/.new.iso.Xa1b2'), Buffer.alloc(12_000, 2));
  t.ok(await waitFor(() => catalog.lookup('releases/1.0/.new.iso.Xa1b2') === undefined, 200), 'the temp file is never in the catalog');
  renameSync(join(repo, 'releases/1.0/.new.iso.Xa1b2'), join(repo, 'releases/1.0/new.iso'));
  t.ok(await waitFor(() => catalog.lookup('releases/1.0/new.iso')?.size === 12_000, WAIT), 'the rename replaces it');

  rmSync(join(repo, 'releases/1.0/new.iso'));
  t.ok(await waitFor(() => catalog.lookup('releases/1.0/new.iso') === undefined, WAIT), 'a removed file is removed');

  const staging = join(fixture.dir, 'staging/2.0');
  mkdirSync(join(staging, 'sub'), { recursive: true });
  writeFileSync(join(staging, 'a.iso'), Buffer.alloc(5000));
  writeFileSync(join(staging, 'sub/b.iso'), Buffer.alloc(6000));
  renameSync(staging, join(repo, 'releases/2.0'));
  t.ok(await waitFor(() => catalog.lookup('releases/2.0/a.iso') !== undefined && catalog.lookup('releases/2.0/sub/b.iso') !== undefined, WAIT),
    'a directory moved in brings its files');
  writeFileSync(join(repo, 'releases/2.0/sub/c.iso'), Buffer.alloc(7000));
  t.ok(await waitFor(() => catalog.lookup('releases/2.0/sub/c.iso') !== undefined, WAIT), 'and is watched from then on');

  renameSync(join(repo, 'releases/2.0'), join(fixture.dir, 'gone'));
  t.ok(await waitFor(() => [...catalog.entries()].every((f) => !f.path.startsWith('releases/2.0/')), WAIT), 'a directory moved out takes its files along');

  const res = await app.inject({ url: '/releases/2.0/a.iso' });
  t.equal(res.statusCode, 404);
});

t.test('a file rebuilt with the same size and mtime is a new copy: its hash and evidence start over', async (t) => {
  const { app, fixture } = await build(t);
  t.ok(await waitFor(() => app.mirrorgate.watchReport !== undefined, WAIT), 'the watcher is set up');
  const file = join(fixture.repository, 'releases/1.0/medium.tar.gz');
  const before = app.mirrorgate.catalog.lookup('releases/1.0/medium.tar.gz');
  const old = statSync(file);
  writeFileSync(`${file}.tmp`, Buffer.alloc(8192, 99));
  utimesSync(`${file}.tmp`, old.atimeMs / 1000, old.mtimeMs / 1000);
  renameSync(`${file}.tmp`, file);
  t.ok(await waitFor(() => app.mirrorgate.catalog.lookup('releases/1.0/medium.tar.gz')?.ctimeMs !== before?.ctimeMs, WAIT));
  t.match(app.mirrorgate.catalog.lookup('releases/1.0/medium.tar.gz'), { size: 8192, mtimeMs: before?.mtimeMs }, 'same size and mtime, new ctime');
});

t.test('with the watcher off, a file served from the repository is stat\'ed first and the catalog follows', async (t) => {
  const fixture = makeFixture(t);
  writeConfig(fixture.configPath, { mirrors: DEFAULT_MIRRORS, catalog: { watch: false, rescanSeconds: 0 }, smallFileBytes: 4096 });
  const { app } = await build(t, { fixture });
  t.equal(app.mirrorgate.watcher, undefined);
  writeFileSync(join(fixture.repository, 'README.txt'), Buffer.alloc(300, 65));
  const res = await app.inject({ url: '/README.txt' });
  t.equal(res.statusCode, 200);
  t.equal(res.rawPayload.length, 300, 'the bytes on disk');
  t.equal(app.mirrorgate.catalog.lookup('README.txt')?.size, 300, 'and the catalog says so before the answer');

  // grown past smallFileBytes: the same request is now a redirect, as the catalog says
  writeFileSync(join(fixture.repository, 'README.txt'), Buffer.alloc(10_000, 65));
  const grown = await app.inject({ url: '/README.txt' });
  t.equal(grown.statusCode, 302);
  t.equal(app.mirrorgate.catalog.lookup('README.txt')?.size, 10_000);

  rmSync(join(fixture.repository, 'releases/1.0/with space+plus.iso'));
  const gone = await app.inject({ url: '/releases/1.0/with%20space%2Bplus.iso' });
  t.equal(gone.statusCode, 302, 'a large file is redirected on the catalog alone: no disk access on the redirect path');
});

t.test('another process follows changes through catalog_changes, without reloading everything', async (t) => {
  const fx = makeFixture(t, { files: { 'a.iso': 10, 'b.iso': 20 } });
  const { db } = openDb(fx.dbPath);
  const { db: other } = openDb(fx.dbPath);
  t.teardown(() => { db.close(); other.close(); });
  const writer = new Catalog(db);
  await writer.scan(fx.repository);
  const reader = new Catalog(other);
  reader.load();
  const aBefore = reader.lookup('a.iso');
  writer.patch([
    { path: 'b.iso', stat: { size: 21, mtimeMs: 1, ctimeMs: 2 } },
    { path: 'c.iso', stat: { size: 30, mtimeMs: 1, ctimeMs: 2 } },
    { path: 'a.iso', stat: undefined },
  ]);
  t.ok(reader.follow());
  t.equal(reader.lookup('a.iso'), undefined);
  t.match(reader.lookup('b.iso'), { size: 21, ctimeMs: 2 });
  t.match(reader.lookup('c.iso'), { size: 30 });
  t.equal(reader.size, 2);
  t.notOk(reader.follow(), 'nothing new');
  t.match(aBefore, { size: 10 }, 'read before the change');
  // a full rescan by the writer: the reader follows it too
  writeFileSync(join(fx.repository, 'd.iso'), 'd');
  await writer.scan(fx.repository);
  t.ok(reader.follow());
  t.same([...reader.entries()].map((e) => e.path).sort(), ['a.iso', 'b.iso', 'd.iso']);
});

t.test('a failing database write keeps the change in memory and writes it later', async (t) => {
  const fx = makeFixture(t, { files: { 'a.iso': 10 } });
  const { db } = openDb(fx.dbPath);
  t.teardown(() => db.close());
  const catalog = new Catalog(db);
  await catalog.scan(fx.repository);
  db.exec('CREATE TRIGGER no_writes BEFORE INSERT ON catalog_changes BEGIN SELECT RAISE(ABORT, \'disk full\'); END');
  t.throws(() => catalog.patch([{ path: 'n.iso', stat: { size: 5, mtimeMs: 1, ctimeMs: 1 } }]), /disk full/);
  t.match(catalog.lookup('n.iso'), { size: 5 }, 'memory has it: answers rely on it at once');
  t.equal(catalog.pendingWrites, 1);
  db.exec('DROP TRIGGER no_writes');
  catalog.retryPersist();
  t.equal(catalog.pendingWrites, 0);
  t.match(statement(db, 'SELECT size FROM files WHERE path = ?').get('n.iso'), { size: 5 });
});

t.test('a copy replacing another with the same date gets a later Last-Modified and its own ETag: no wrong 304', async (t) => {
  const { app, fixture } = await build(t, { files: { 'README.txt': 100, 'dists/InRelease': 600 } });
  t.ok(await waitFor(() => app.mirrorgate.watchReport !== undefined, WAIT), 'the watcher is set up');
  const file = join(fixture.repository, 'dists/InRelease');
  const first = await app.inject({ url: '/dists/InRelease' });
  const lastModified = String(first.headers['last-modified']);
  const etag = String(first.headers.etag);
  t.equal((await app.inject({ url: '/dists/InRelease', headers: { 'if-modified-since': lastModified } })).statusCode, 304, 'unchanged: 304');

  const old = statSync(file);
  const before = app.mirrorgate.catalog.lookup('dists/InRelease');
  writeFileSync(`${file}.tmp`, Buffer.alloc(600, 42));
  utimesSync(`${file}.tmp`, old.atimeMs / 1000, old.mtimeMs / 1000);
  renameSync(`${file}.tmp`, file);
  t.ok(await waitFor(() => app.mirrorgate.catalog.lookup('dists/InRelease')?.ctimeMs !== before?.ctimeMs, WAIT));

  const stale = await app.inject({ url: '/dists/InRelease', headers: { 'if-modified-since': lastModified } });
  t.equal(stale.statusCode, 200, 'a client with the old copy gets the new one');
  t.equal(stale.rawPayload[0], 42);
  t.ok(Date.parse(String(stale.headers['last-modified'])) > Date.parse(lastModified), 'dated after the old copy');
  t.equal((await app.inject({ url: '/dists/InRelease', headers: { 'if-none-match': etag } })).statusCode, 200, 'the old ETag does not match');
  const current = await app.inject({ url: '/dists/InRelease', headers: { 'if-modified-since': String(stale.headers['last-modified']) } });
  t.equal(current.statusCode, 304, 'the new date validates the new copy');
});
