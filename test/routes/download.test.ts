import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, DEFAULT_MIRRORS, writeConfig, rawRequest } from '../helper.js';
import type { Log } from '../../src/log.js';

t.test('GET and HEAD of a large file: 302 to a configured mirror, not cacheable by shared caches', async (t) => {
  const { app } = await build(t);
  for (const method of ['GET', 'HEAD'] as const) {
    const res = await app.inject({ method, url: '/releases/1.0/big.iso' });
    t.equal(res.statusCode, 302, method);
    t.match(res.headers.location, /^https:\/\/(eu\.example\.org\/pub|us\.example\.org)\/releases\/1\.0\/big\.iso$/);
    t.match(res.headers['cache-control'], /private/);
    t.match(res.headers['cache-control'], /no-store/);
    t.ok(['eu', 'us'].includes(String(res.headers['x-mirrorgate-mirror'])));
  }
});

t.test('Location is percent-encoded correctly', async (t) => {
  const { app } = await build(t, { config: { mirrors: [DEFAULT_MIRRORS[0]] } });
  const spaced = await app.inject({ url: '/releases/1.0/with%20space%2Bplus.iso' });
  t.equal(spaced.headers.location, 'https://eu.example.org/pub/releases/1.0/with%20space%2Bplus.iso');
  const unicode = await app.inject({ url: '/pool/%C3%BC/%C3%BCn%C3%AFcode.deb' });
  t.equal(unicode.headers.location, 'https://eu.example.org/pub/pool/%C3%BC/%C3%BCn%C3%AFcode.deb');
});

t.test('a small file is served directly, with Range, ETag and 304', async (t) => {
  const { app, fixture } = await build(t);
  const body = readFileSync(join(fixture.repository, 'README.txt'));
  const full = await app.inject({ url: '/README.txt' });
  t.equal(full.statusCode, 200);
  t.equal(full.rawPayload.length, body.length);
  t.ok(full.headers.etag);
  t.ok(full.headers['last-modified']);
  const part = await app.inject({ url: '/README.txt', headers: { range: 'bytes=10-19' } });
  t.equal(part.statusCode, 206);
  t.equal(part.headers['content-range'], `bytes 10-19/${body.length}`);
  t.same(part.rawPayload, body.subarray(10, 20));
  const cached = await app.inject({ url: '/README.txt', headers: { 'if-none-match': String(full.headers.etag) } });
  t.equal(cached.statusCode, 304);
  const head = await app.inject({ method: 'HEAD', url: '/README.txt' });
  t.equal(head.statusCode, 200);
  t.equal(head.headers['content-length'], String(body.length));
});

t.test('unknown paths get 404 and never a redirect; directories get their page', async (t) => {
  const { app } = await build(t);
  for (const url of ['/nope.iso', '/nope/', '/releases/2.0/', '/releases/1.0/big.iso/x', '/releases/1.0/big.iso.meta4/x']) {
    const res = await app.inject({ url });
    t.equal(res.statusCode, 404, url);
    t.notOk(res.headers.location, url);
  }
  for (const url of ['/releases/1.0/', '/']) t.equal((await app.inject({ url })).statusCode, 200, url);
  const slashless = await app.inject({ url: '/releases?sort=size' });
  t.equal(slashless.statusCode, 301);
  t.equal(slashless.headers.location, '/releases/?sort=size', 'to the slash form, query kept');
});

t.test('traversal attempts, sent byte for byte, are rejected with 400 for their reason', async (t) => {
  const { app } = await build(t);
  // Over a raw socket: inject() (like curl and browsers) resolves dot segments before they are sent.
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const cases: [string, string][] = [
    ['/../etc/passwd', 'dot-dot'], ['/%2e%2e/etc/passwd', 'dot-dot'], ['/releases/..%2f..%2f..%2fetc%2fpasswd', 'dot-dot'],
    ['/README.txt%00.iso', 'nul-byte'], ['/%zz', 'bad-encoding'], ['/releases/1.0/%2e%2e%2f%2e%2e%2fREADME.txt', 'dot-dot'],
    ['/releases/1.0/../../README.txt', 'dot-dot'], ['/releases/%2E%2E/%2E%2E/README.txt', 'dot-dot'], ['/releases/1.0/.%2e/big.iso', 'dot-dot'],
  ];
  for (const [url, reason] of cases) {
    const res = await rawRequest(port, `GET ${url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    t.equal(res.status, 400, url);
    t.equal(res.body, `Bad Request: ${reason}\n`, url);
    t.notOk(res.headers.location, url);
  }
});

t.test('every other method Node parses gets 405 with Allow, its body unread, the connection closed', async (t) => {
  const { app } = await build(t);
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'MKCOL', 'LOCK', 'PURGE', 'SEARCH', 'QUERY'] as const) {
    for (const url of ['/releases/1.0/big.iso', '/nope', '/_mirrorgate/health']) {
      const res = await app.inject({ method, url, payload: method === 'TRACE' ? undefined : 'x'.repeat(10), headers: { 'content-type': 'text/plain' } });
      t.equal(res.statusCode, 405, `${method} ${url}`);
      t.equal(res.headers.allow, 'GET, HEAD');
      t.equal(res.headers.connection, 'close');
      t.equal(res.body, 'Method Not Allowed\n');
    }
  }
});

t.test('an https request is never sent on to an http fallbackUrl: the file is served from the repository', async (t) => {
  const { app } = await build(t, { config: { mirrors: DEFAULT_MIRRORS, fallbackUrl: 'http://master.example.org/files' } });
  const plain = await app.inject({ url: '/releases/1.0/medium.tar.gz?avoid=eu,us' });
  t.equal(plain.headers.location, 'http://master.example.org/files/releases/1.0/medium.tar.gz', 'http stays http');
  const secure = await app.inject({ url: '/releases/1.0/medium.tar.gz?avoid=eu,us', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-proto': 'https' } });
  t.equal(secure.statusCode, 200);
  t.notOk(secure.headers.location);
  t.equal(secure.headers['x-mirrorgate-mirror'], '_local');
});

t.test('a file gone from disk but still in the catalog: plain-text 404, and the catalog forgets it', async (t) => {
  const { app, fixture } = await build(t, { config: { mirrors: [], catalog: { watch: false, rescanSeconds: 0 } } });
  const { rmSync } = await import('node:fs');
  rmSync(join(fixture.repository, 'releases/1.0/medium.tar.gz'));
  const res = await app.inject({ url: '/releases/1.0/medium.tar.gz' });
  t.equal(res.statusCode, 404);
  t.match(res.headers['content-type'], /^text\/plain/);
  t.equal(res.body, 'Not Found\n');
  t.equal(app.mirrorgate.catalog.lookup('releases/1.0/medium.tar.gz'), undefined);
});

t.test('a file of exactly smallFileBytes is redirected; one byte less is served', async (t) => {
  const { app } = await build(t, { config: { mirrors: DEFAULT_MIRRORS, smallFileBytes: 8192 }, files: { 'at.bin': 8192, 'below.bin': 8191 } });
  t.equal((await app.inject({ url: '/at.bin' })).statusCode, 302);
  const below = await app.inject({ url: '/below.bin' });
  t.equal(below.statusCode, 200);
  t.equal(below.headers['x-mirrorgate-mirror'], '_local');
});

t.test('with every mirror disabled the file is served from the repository', async (t) => {
  const { app } = await build(t, { config: { mirrors: DEFAULT_MIRRORS.map((m) => ({ ...m, enabled: false })) } });
  const res = await app.inject({ url: '/releases/1.0/medium.tar.gz' });
  t.equal(res.statusCode, 200);
  t.equal(res.rawPayload.length, 8192);
  t.equal(res.headers['x-mirrorgate-mirror'], '_local');
});

t.test('with every mirror avoided and a fallbackUrl, the fallback gets the redirect', async (t) => {
  const { app } = await build(t, { config: { mirrors: DEFAULT_MIRRORS, fallbackUrl: 'https://master.example.org/files' } });
  const res = await app.inject({ url: '/releases/1.0/big.iso?avoid=eu,us' });
  t.equal(res.statusCode, 302);
  t.equal(res.headers.location, 'https://master.example.org/files/releases/1.0/big.iso');
  t.equal(res.headers['x-mirrorgate-mirror'], '_fallback');
});

t.test('?avoid= skips the named mirror', async (t) => {
  const { app } = await build(t);
  for (let i = 0; i < 20; i++) {
    const res = await app.inject({ url: '/releases/1.0/big.iso?avoid=eu' });
    t.equal(res.headers['x-mirrorgate-mirror'], 'us');
  }
});

t.test('paths longer than 100 characters still route', async (t) => {
  const long = `${'deep/'.repeat(40)}file.iso`;
  const { app } = await build(t, { files: { [long]: 10000 } });
  const res = await app.inject({ url: `/${long}` });
  t.equal(res.statusCode, 302);
});

t.test('admin endpoints answer', async (t) => {
  const { app } = await build(t);
  await app.inject({ url: '/releases/1.0/big.iso' });
  const health = await app.inject({ url: '/_mirrorgate/health' });
  t.match(health.json(), { status: 'ok', files: 5, mirrors: 2 });
  const metrics = await app.inject({ url: '/_mirrorgate/metrics' });
  t.match(metrics.body, /mirrorgate_requests_total\{target="(eu|us)"\} 1/);
  t.match(metrics.body, /mirrorgate_catalog_files 5/);
  // The first lookup of the path read the database; a second request finds it in the cache.
  const lookups = (body: string, result: string) => Number(new RegExp(`^mirrorgate_catalog_lookups_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(body)?.[1]);
  const before = { cached: lookups(metrics.body, 'cached'), database: lookups(metrics.body, 'database') };
  t.ok(before.database >= 1, 'the first request read the database');
  await app.inject({ url: '/releases/1.0/big.iso' });
  const after = (await app.inject({ url: '/_mirrorgate/metrics' })).body;
  t.equal(lookups(after, 'database'), before.database, 'the second request read nothing');
  t.ok(lookups(after, 'cached') > before.cached, 'it was answered from the cache');
  t.match(after, /^mirrorgate_catalog_cache_entries [1-9]\d*$/m);
  t.match((await app.inject({ url: '/_mirrorgate/health' })).json(), { catalogCache: { entries: Number, lookups: Number, misses: Number } });
  const mirrors = await app.inject({ url: '/_mirrorgate/mirrors' });
  t.match(mirrors.json(), [{ name: 'eu', state: 'unprobed', enabled: true }, { name: 'us', state: 'unprobed' }]);
});

t.test('rate limiting keys on the client address', async (t) => {
  const { app } = await build(t, { config: { mirrors: DEFAULT_MIRRORS, rateLimit: { max: 3, windowSeconds: 60 } } });
  const from = (ip: string) => app.inject({ url: '/releases/1.0/big.iso', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': ip } });
  for (let i = 0; i < 3; i++) t.equal((await from('198.51.100.1')).statusCode, 302);
  t.equal((await from('198.51.100.1')).statusCode, 429);
  t.equal((await from('198.51.100.2')).statusCode, 302, 'another client is not limited');
});

t.test('rate limit settings apply on reload: a higher max, then disabled', async (t) => {
  const { app, fixture } = await build(t, { config: { mirrors: DEFAULT_MIRRORS, rateLimit: { max: 2, windowSeconds: 60 } } });
  const from = () => app.inject({ url: '/releases/1.0/big.iso', remoteAddress: '198.51.100.7' });
  t.equal((await from()).statusCode, 302);
  t.equal((await from()).statusCode, 302);
  t.equal((await from()).statusCode, 429);
  writeConfig(fixture.configPath, { mirrors: DEFAULT_MIRRORS, rateLimit: { max: 5, windowSeconds: 60 } });
  t.ok((await app.mirrorgate.reload()).ok);
  t.equal((await from()).statusCode, 302, 'the 4th request is within the new max');
  t.equal((await from()).statusCode, 302);
  t.equal((await from()).statusCode, 429);
  writeConfig(fixture.configPath, { mirrors: DEFAULT_MIRRORS, rateLimit: { enabled: false } });
  t.ok((await app.mirrorgate.reload()).ok);
  for (let i = 0; i < 5; i++) t.equal((await from()).statusCode, 302, 'disabled: never limited');
});

t.test('a failing handler answers 500 and its error reaches the log', async (t) => {
  const lines: { obj: Record<string, unknown>; msg?: string }[] = [];
  const log: Log = {
    debug() {},
    info() {},
    warn() {},
    error(obj, msg) {
      lines.push({ obj: obj as Record<string, unknown>, msg });
    },
    child() {
      return log;
    },
  };
  const { app } = await build(t, { log });
  app.get('/_mirrorgate/boom', () => {
    throw new Error('boom');
  });
  const res = await app.inject({ url: '/_mirrorgate/boom' });
  t.equal(res.statusCode, 500);
  t.equal(res.json().message, 'boom', "Fastify's usual error body");
  const logged = lines.find((l) => l.msg === 'request failed');
  t.ok(logged, 'logged once, as request failed');
  t.equal(logged?.obj.url, '/_mirrorgate/boom');
  t.equal((logged?.obj.err as Error).message, 'boom');
});

t.test('IPv6 clients on the request path keep to IPv6-capable mirrors; IPv4 clients get both', async (t) => {
  const mirrors = [{ name: 'v4only', url: 'https://v4.example.org/', ipv6: false }, { name: 'dual', url: 'https://dual.example.org/' }];
  const { app } = await build(t, { config: { mirrors, rateLimit: { enabled: false } } });
  const seen = { v6: new Set<string>(), v4: new Set<string>() };
  for (let i = 0; i < 40; i++) {
    const v6 = await app.inject({ url: '/releases/1.0/big.iso', remoteAddress: `2001:db8:${i.toString(16)}::1` });
    seen.v6.add(String(v6.headers['x-mirrorgate-mirror']));
    const behindProxy = await app.inject({ url: '/releases/1.0/big.iso', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': `2001:db8:${i.toString(16)}::2` } });
    seen.v6.add(String(behindProxy.headers['x-mirrorgate-mirror']));
    const v4 = await app.inject({ url: '/releases/1.0/big.iso', remoteAddress: `198.${i + 1}.100.1` });
    seen.v4.add(String(v4.headers['x-mirrorgate-mirror']));
  }
  t.same([...seen.v6], ['dual']);
  t.same([...seen.v4].sort(), ['dual', 'v4only']);
});

t.test('IPv6 clients are rate-limited per /64, whatever the spelling', async (t) => {
  const { app } = await build(t, { config: { mirrors: DEFAULT_MIRRORS, rateLimit: { max: 3, windowSeconds: 60 } } });
  const from = (ip: string) => app.inject({ url: '/releases/1.0/big.iso', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': ip } });
  t.equal((await from('2001:db8:1:2::1')).statusCode, 302);
  t.equal((await from('2001:DB8:1:2:0:0:0:1')).statusCode, 302, 'another spelling, the same budget');
  t.equal((await from('2001:db8:1:2:ffff::9')).statusCode, 302, 'another host in the /64');
  t.equal((await from('2001:db8:1:2::abcd')).statusCode, 429, 'the /64 used its budget');
  t.equal((await from('2001:db8:1:3::1')).statusCode, 302, 'the next /64 has its own');
});

t.test('a volatile file is never sent to fallbackUrl: served from the repository', async (t) => {
  const { app } = await build(t, {
    config: { mirrors: DEFAULT_MIRRORS, fallbackUrl: 'https://master.example.org/files' },
    files: { 'dists/stable/InRelease': 9000, 'big.iso': 9000 },
  });
  const volatile = await app.inject({ url: '/dists/stable/InRelease?avoid=eu,us' });
  t.equal(volatile.statusCode, 200);
  t.equal(volatile.headers['x-mirrorgate-mirror'], '_local');
  t.equal((await app.inject({ url: '/big.iso?avoid=eu,us' })).headers['x-mirrorgate-mirror'], '_fallback', 'a stable file does go there');
});
