// What clients see besides the redirect: Link and digest headers, checksums, Metalink, mirror lists and
// directories, through the real route (inject), with probing off (every enabled mirror holds every file).
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { build, DEFAULT_MIRRORS, waitFor } from '../helper.js';

const SCHEMA = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../fixtures/metalink4.rnc');

const MIRRORS = [
  ...DEFAULT_MIRRORS,
  { name: 'fr', url: 'http://fr.example.org/', weight: 100, country: 'FR' },
  { name: 'off', url: 'https://off.example.org/', weight: 100, country: 'DE', enabled: false },
  { name: 'jp', url: 'https://jp.example.org/', weight: 100, country: 'JP' },
];

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest();

async function hashed(t: Test, app: Awaited<ReturnType<typeof build>>['app'], path: string) {
  t.ok(await waitFor(() => app.mirrorgate.catalog.sha256Of(app.mirrorgate.catalog.lookup(path)!) !== undefined, 30_000), `${path} hashed`);
}

t.test('a redirect carries Link alternates in selection order, the Metalink link and the digests', async (t) => {
  const { app, fixture } = await build(t, { config: { mirrors: MIRRORS } });
  await hashed(t, app, 'releases/1.0/big.iso');
  const digest = sha256(join(fixture.repository, 'releases/1.0/big.iso')).toString('base64');
  const res = await app.inject({ url: '/releases/1.0/big.iso', remoteAddress: '192.0.2.10' });
  t.equal(res.statusCode, 302);
  const links = res.headers.link as string[];
  t.equal(links.length, 4, 'the three next best mirrors (Location is the first), then the Metalink');
  links.slice(0, 3).forEach((link, i) => {
    t.match(link, new RegExp(`^<https?://[a-z]+\\.example\\.org/(pub/)?releases/1\\.0/big\\.iso>; rel=duplicate; pri=${i + 2}; geo=[a-z]{2}$`));
  });
  t.notMatch(links.join(' '), /off\.example/, 'never a disabled mirror');
  const urls = [String(res.headers.location), ...links.slice(0, 3).map((l) => l.slice(1, l.indexOf('>')))];
  t.equal(new Set(urls).size, 4, 'four different mirrors, Location first');
  t.equal(links[3], '</releases/1.0/big.iso.meta4>; rel=describedby; type="application/metalink4+xml"');
  t.equal(res.headers['repr-digest'], `sha-256=:${digest}:`);
  t.equal(res.headers.digest, `SHA-256=${digest}`);

  // The same order as selection: avoiding the first three gives the fourth.
  const names = urls.map((u) => MIRRORS.find((m) => u.startsWith(m.url))!.name);
  const avoided = await app.inject({ url: `/releases/1.0/big.iso?avoid=${names.slice(0, 3).join(',')}`, remoteAddress: '192.0.2.10' });
  t.equal(avoided.headers['x-mirrorgate-mirror'], names[3]);
  const second = await app.inject({ url: `/releases/1.0/big.iso?avoid=${names[0]}`, remoteAddress: '192.0.2.10' });
  t.equal(second.headers['x-mirrorgate-mirror'], names[1]);
});

t.test('alternates are configurable, and both kinds of header can be turned off', async (t) => {
  const { app } = await build(t, { config: { mirrors: MIRRORS, clients: { alternates: 0, digests: false } } });
  await hashed(t, app, 'releases/1.0/big.iso');
  const res = await app.inject({ url: '/releases/1.0/big.iso' });
  t.equal(res.statusCode, 302);
  t.equal(res.headers.link, undefined);
  t.equal(res.headers.digest, undefined);
  t.equal(res.headers['repr-digest'], undefined);
});

t.test('a file served from the repository, and one sent to the fallback, carry the same digests', async (t) => {
  const { app, fixture } = await build(t, { config: { mirrors: [{ ...DEFAULT_MIRRORS[0], enabled: false }], fallbackUrl: 'https://fallback.example.org/' } });
  await hashed(t, app, 'README.txt');
  const res = await app.inject({ url: '/README.txt' });
  t.equal(res.statusCode, 200);
  t.equal(res.headers.digest, `SHA-256=${sha256(join(fixture.repository, 'README.txt')).toString('base64')}`);
  await hashed(t, app, 'releases/1.0/big.iso');
  const fallback = await app.inject({ url: '/releases/1.0/big.iso' });
  t.equal(fallback.headers.location, 'https://fallback.example.org/releases/1.0/big.iso');
  t.equal(fallback.headers['repr-digest'], `sha-256=:${sha256(join(fixture.repository, 'releases/1.0/big.iso')).toString('base64')}:`);
  t.equal(fallback.headers.link, undefined, 'no mirror to name');
});

t.test('checksums in sha256sum format, 404 for unknown files, 503 with Retry-After before hashing', async (t) => {
  const { app, fixture } = await build(t, { config: { mirrors: MIRRORS, catalog: { hashConcurrency: 0 } } });
  const off = await app.inject({ url: '/releases/1.0/big.iso?sha256' });
  t.equal(off.statusCode, 404, 'hashing off: no checksum will come');
  t.match(off.body, /hashing is turned off/);

  const on = await build(t, { fixture });
  writeFileSync(fixture.configPath, readFileSync(fixture.configPath, 'utf8').replace('"hashConcurrency": 0', '"hashConcurrency": 1'));
  const hex = sha256(join(fixture.repository, 'releases/1.0/big.iso')).toString('hex');
  await hashed(t, on.app, 'releases/1.0/big.iso');
  for (const url of ['/releases/1.0/big.iso?sha256', '/releases/1.0/big.iso.sha256']) {
    const res = await on.app.inject({ url });
    t.equal(res.statusCode, 200, url);
    t.equal(res.body, `${hex}  big.iso\n`, url);
    t.match(res.headers['content-type'], /^text\/plain/);
  }
  t.equal((await on.app.inject({ url: '/nope.iso?sha256' })).statusCode, 404);
  t.equal((await on.app.inject({ url: '/nope.iso.sha256' })).statusCode, 404);

  // A new file, not hashed yet: 503 and when to come back.
  await on.app.mirrorgate.hasher.stop();
  writeFileSync(join(fixture.repository, 'new.iso'), Buffer.alloc(9000, 7));
  on.app.mirrorgate.applyChanges([{ path: 'new.iso', stat: { size: 9000, mtimeMs: Date.now(), ctimeMs: Date.now() } }]);
  const pending = await on.app.inject({ url: '/new.iso.sha256' });
  t.equal(pending.statusCode, 503);
  t.equal(pending.headers['retry-after'], '30');
});

t.test('Metalink: by suffix, by query and by Accept; mirrors in the client order, pieces, the repository as last resort', async (t) => {
  const { app, fixture } = await build(t, { config: { mirrors: MIRRORS } });
  await hashed(t, app, 'releases/1.0/big.iso');
  const hex = sha256(join(fixture.repository, 'releases/1.0/big.iso')).toString('hex');
  const bodies: string[] = [];
  for (const [url, headers] of [['/releases/1.0/big.iso.meta4', {}], ['/releases/1.0/big.iso?meta4', {}], ['/releases/1.0/big.iso', { accept: 'application/metalink4+xml' }]] as const) {
    const res = await app.inject({ url, headers, remoteAddress: '192.0.2.10' });
    t.equal(res.statusCode, 200, url);
    t.equal(res.headers['content-type'], 'application/metalink4+xml', url);
    bodies.push(res.body);
  }
  t.equal(new Set(bodies).size, 1, 'the three forms give the same document');
  const doc = bodies[0] as string;
  t.match(doc, '<file name="big.iso">');
  t.match(doc, '<size>10485760</size>');
  t.match(doc, `<hash type="sha-256">${hex}</hash>`);
  t.match(doc, '<pieces length="262144" type="sha-256">');
  t.equal(doc.match(/<hash>[0-9a-f]{64}<\/hash>/g)?.length, 40, '10 MiB in 256 KiB pieces');
  t.notMatch(doc, 'off.example', 'never a disabled mirror');
  const urls = [...doc.matchAll(/<url location="([a-z]+)" priority="(\d)">([^<]+)<\/url>/g)];
  t.equal(urls.length, 4);
  const redirect = await app.inject({ url: '/releases/1.0/big.iso', remoteAddress: '192.0.2.10' });
  t.equal(urls[0]?.[3], redirect.headers.location, 'priority 1 is where this client is redirected');
  t.same(urls.map((u) => u[2]), ['1', '2', '3', '4']);
  // The served document, pieces and all, is valid against RFC 5854's grammar.
  const file = join(fixture.dir, 'big.iso.meta4');
  writeFileSync(file, doc);
  const valid = await new Promise<string>((resolve) => execFile('jing', ['-c', SCHEMA, file], (e, out) => resolve(e === null ? 'valid' : out)));
  t.equal(valid, 'valid');

  // A file no mirror may serve (every mirror avoided is not possible here: use a small file).
  const small = await app.inject({ url: '/README.txt.meta4', headers: { host: 'downloads.example.net' } });
  t.equal(small.statusCode, 200);
  t.match(small.body, '<url priority="1">http://downloads.example.net/README.txt</url>');
  const badHost = await app.inject({ url: '/README.txt.meta4', headers: { host: 'evil"><x' } });
  t.equal(badHost.statusCode, 400);
});

t.test('mirror list: HTML and JSON, in the client order, public facts only', async (t) => {
  const { app } = await build(t, { config: { mirrors: MIRRORS } });
  const json = await app.inject({ url: '/releases/1.0/big.iso?mirrorlist=json', remoteAddress: '192.0.2.10' });
  t.equal(json.statusCode, 200);
  const list = json.json() as { file: { path: string; size: number }; mirrors: { name: string; rank: number | null; state: string }[] };
  t.equal(list.file.path, 'releases/1.0/big.iso');
  t.equal(list.file.size, 10485760);
  t.same(list.mirrors.map((m) => m.rank), [1, 2, 3, 4]);
  t.notOk(list.mirrors.some((m) => m.name === 'off'), 'a disabled mirror is never shown');
  const redirect = await app.inject({ url: '/releases/1.0/big.iso', remoteAddress: '192.0.2.10' });
  t.equal(list.mirrors[0]?.name, redirect.headers['x-mirrorgate-mirror']);
  const byAccept = await app.inject({ url: '/releases/1.0/big.iso?mirrorlist', headers: { accept: 'application/json' }, remoteAddress: '192.0.2.10' });
  t.same(byAccept.json(), list);

  const html = await app.inject({ url: '/releases/1.0/big.iso?mirrorlist', remoteAddress: '192.0.2.10' });
  t.equal(html.statusCode, 200);
  t.match(html.headers['content-type'], /^text\/html/);
  t.match(html.body, '<meta name="viewport"');
  t.notMatch(html.body, /<script/i);
  t.match(html.body, '10 MiB');
  t.notMatch(html.body, 'off.example');
  const suffix = await app.inject({ url: '/releases/1.0/big.iso.mirrorlist', remoteAddress: '192.0.2.10' });
  t.equal(suffix.body, html.body);
});

t.test('directories: index.html with and without the slash, generated listings, JSON, the root', async (t) => {
  const files = {
    'docs/index.html': 200, 'docs/guide.txt': 50,
    'pub/a.iso': 9000, 'pub/sub/b.iso': 5000, 'pub/we#ird %name.iso': 5000, 'pub/<script>x.iso': 5000, 'pub/ünï.iso': 5000,
  };
  const { app, fixture } = await build(t, { files, config: { mirrors: MIRRORS } });
  mkdirSync(join(fixture.repository, 'pub/.hidden'), { recursive: true });
  writeFileSync(join(fixture.repository, 'pub/.secret'), 'x');

  const slashless = await app.inject({ url: '/docs' });
  t.equal(slashless.statusCode, 301);
  t.equal(slashless.headers.location, '/docs/');
  const index = await app.inject({ url: '/docs/' });
  t.equal(index.statusCode, 200);
  t.equal(index.rawPayload.length, 200, 'the repository\'s own index.html');

  const listing = await app.inject({ url: '/pub/' });
  t.equal(listing.statusCode, 200);
  t.match(listing.headers['content-type'], /^text\/html/);
  const body = listing.body;
  t.match(body, '<a href="sub/">sub/</a>');
  t.match(body, '<a href="we%23ird%20%25name.iso">we#ird %name.iso</a>');
  t.match(body, '<a href="%3Cscript%3Ex.iso">&lt;script&gt;x.iso</a>');
  t.match(body, '<a href="%C3%BCn%C3%AF.iso">ünï.iso</a>');
  t.notMatch(body, /<script>/);
  t.notMatch(body, /\.secret|\.hidden/);
  const json = await app.inject({ url: '/pub/?json' });
  const entries = (json.json() as { entries: { name: string; directory: boolean; size: number | null }[] }).entries;
  t.same(entries.map((e) => e.name), ['sub', '<script>x.iso', 'a.iso', 'we#ird %name.iso', 'ünï.iso']);
  const bySize = await app.inject({ url: '/pub/?sort=size&order=desc', headers: { accept: 'application/json' } });
  t.equal((bySize.json() as { entries: { name: string }[] }).entries[1]?.name, 'a.iso', 'largest file first');

  const root = await app.inject({ url: '/' });
  t.equal(root.statusCode, 200);
  t.match(root.body, '<a href="docs/">docs/</a>');
  t.equal((await app.inject({ url: '/nope/' })).statusCode, 404);
  t.equal((await app.inject({ url: '/pub/.hidden/' })).statusCode, 404, 'a dot directory is not in the catalog');
  t.equal((await app.inject({ url: '/pub/.secret' })).statusCode, 404);

  // The index follows the catalog.
  writeFileSync(join(fixture.repository, 'pub/late.iso'), Buffer.alloc(10));
  app.mirrorgate.applyChanges([{ path: 'pub/late.iso', stat: { size: 10, mtimeMs: Date.now(), ctimeMs: Date.now() } }]);
  t.match((await app.inject({ url: '/pub/' })).body, 'late.iso');
  app.mirrorgate.applyChanges([{ path: 'pub/sub/b.iso', stat: undefined }]);
  t.notMatch((await app.inject({ url: '/pub/' })).body, 'sub/');
  t.equal((await app.inject({ url: '/pub/sub/' })).statusCode, 404, 'an emptied directory is gone');
});
