// One catalog per host (issue 14): every process reads the same `files` table and keeps only the paths it
// was asked for lately. What must hold: every process answers from the current catalog, whatever it had
// cached, at 100,000 files as at five; and under --workers 2, both workers see a rescan's additions and
// removals.
import t from 'tap';
import { Agent, request } from 'node:http';
import { mkdirSync, readdirSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDb } from '../../src/db/open.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { makeFixture, serveProcess, waitForAsync, writeConfig, writeFiles } from '../helper.js';

const FILES = 100_000;
const pathOf = (i: number) => `pool/d${Math.floor(i / 100)}/pkg-${i}.deb`;

/** What the disk says of a path, in the catalog's terms. */
function onDisk(root: string, path: string): { size: number; mtimeMs: number; ctimeMs: number } | undefined {
  let s;
  try {
    s = statSync(join(root, path), { throwIfNoEntry: false });
  } catch {
    return undefined; // a path through a file (ENOTDIR)
  }
  return s === undefined || !s.isFile() ? undefined : { size: s.size, mtimeMs: Math.trunc(s.mtimeMs), ctimeMs: Math.trunc(s.ctimeMs) };
}

t.test(`${FILES} generated files: every lookup of every process matches the disk, before and after a rescan`, async (t) => {
  const fx = makeFixture(t, { files: {} });
  for (let i = 0; i < FILES; i++) {
    const file = join(fx.repository, pathOf(i));
    if (i % 100 === 0) mkdirSync(join(fx.repository, `pool/d${i / 100}`), { recursive: true });
    writeFileSync(file, '');
    if (i % 7 !== 0) truncateSync(file, 1000 + i);
  }
  const { db } = openDb(fx.dbPath);
  const { db: other } = openDb(fx.dbPath);
  t.teardown(() => { db.close(); other.close(); });
  const writer = new Catalog(db);
  const report = await writer.scan(fx.repository);
  t.match(report, { files: FILES, added: FILES, changed: 0, removed: 0 });
  const reader = new Catalog(other); // another process: a worker
  reader.load();
  t.equal(reader.size, FILES);

  const mismatches = (catalog: Catalog, paths: string[]) => paths.filter((path) => {
    const disk = onDisk(fx.repository, path);
    const entry = catalog.lookup(path);
    return disk === undefined ? entry !== undefined : entry?.size !== disk.size || entry.mtimeMs !== disk.mtimeMs || entry.ctimeMs !== disk.ctimeMs;
  });
  const all = Array.from({ length: FILES }, (_, i) => pathOf(i));
  const absent = Array.from({ length: 1000 }, (_, i) => [`pool/d${i}/pkg-${FILES + i}.deb`, `pool/d${i}`, `pool/d${i}/`, `pool/d${i}/pkg-${i}.deb/x`]).flat();
  t.same(mismatches(reader, all), [], 'every file found, with its own size and dates');
  t.same(mismatches(reader, absent), [], 'no path that is not a file');
  t.same(mismatches(writer, all.slice(0, 5000)), [], 'the writer agrees');

  // Every one of them is cached in the reader now. Change a thousand, remove a thousand, add a thousand.
  const old = new Date(Date.now() - 3_600_000);
  for (let i = 0; i < 1000; i++) {
    const file = join(fx.repository, pathOf(i * 97));
    truncateSync(file, 7);
    utimesSync(file, old, old);
    rmSync(join(fx.repository, pathOf(i * 97 + 1)));
  }
  writeFiles(fx.repository, Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`new/d${i % 10}/file-${i}.iso`, 70_000 + i])));
  const second = await writer.scan(fx.repository);
  t.match(second, { files: FILES, added: 1000, changed: 1000, removed: 1000 });
  t.ok(reader.follow(), 'the reader learns of it');
  const added = Array.from({ length: 1000 }, (_, i) => `new/d${i % 10}/file-${i}.iso`);
  t.same(mismatches(reader, [...all, ...added]), [], 'every lookup matches the disk again: nothing stale survives in the cache');
  t.equal(reader.size, FILES);

  // Directory pages read the same table: one seek per child.
  for (const dir of ['', 'pool', 'pool/d0', 'pool/d999', 'new', 'new/d3']) {
    const expected = readdirSync(join(fx.repository, dir)).sort();
    t.same(reader.children(dir).map((c) => c.name).sort(), expected, `children of '${dir}'`);
  }
  t.ok(reader.isDirectory('pool/d5') && !reader.isDirectory('pool/d') && !reader.isDirectory(pathOf(5)), 'directories are told from files and prefixes');
});

t.test('--workers 2 over the shared catalog: a rescan\'s new file is served by both workers, a removed one is 404 on both', async (t) => {
  const fixture = makeFixture(t);
  writeConfig(fixture.configPath, {
    mirrors: [{ name: 'eu', url: 'https://eu.example.org/pub/' }],
    catalog: { watch: false, rescanSeconds: 0 },
    rateLimit: { enabled: false },
  });
  const server = await serveProcess(t, fixture, [], ['--workers', '2']);
  const base = `http://${server.host}:${server.port}`;
  /** One new connection: the file's status, then the health of the worker that holds the connection. */
  const ask = async (path: string): Promise<{ status: number; pid: number }> => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = (url: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      request(url, { agent }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => { body += d.toString(); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject).end();
    });
    try {
      const file = await get(`${base}/${path}`);
      const health = JSON.parse((await get(`${base}/_mirrorgate/health`)).body) as { pid: number };
      return { status: file.status, pid: health.pid };
    } finally {
      agent.destroy();
    }
  };
  /** Asks until both workers have answered `status` (connections go to the workers in turn). */
  const bothAnswer = (path: string, status: number) => waitForAsync(async () => {
    const pids = new Set<number>();
    for (let i = 0; i < 8; i++) {
      const answer = await ask(path);
      if (answer.status !== status) return false;
      pids.add(answer.pid);
    }
    return pids.size === 2;
  }, 30_000);

  t.ok(await bothAnswer('releases/1.0/big.iso', 302), 'both workers redirect a scanned file');
  writeFiles(fixture.repository, { 'releases/2.0/new.iso': 5_000_000 });
  t.equal((await ask('releases/2.0/new.iso')).status, 404, 'not in the catalog before the rescan (no watcher)');
  process.kill(server.child.pid ?? 0, 'SIGHUP'); // reload and rescan
  t.ok(await bothAnswer('releases/2.0/new.iso', 302), 'after the rescan both workers redirect it');
  rmSync(join(fixture.repository, 'releases/2.0/new.iso'));
  process.kill(server.child.pid ?? 0, 'SIGHUP');
  t.ok(await bothAnswer('releases/2.0/new.iso', 404), 'removed and rescanned: 404 on both');
  t.ok(await bothAnswer('releases/1.0/big.iso', 302), 'the rest still redirected');
});
