// Operator endpoints: who may see them, and what the public health check shows.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from '../../src/app.js';
import { readAdminToken } from '../../src/http/admin-access.js';
import { build, makeFixture, serveProcess, DEFAULT_MIRRORS } from '../helper.js';

const TOKEN = 'a-long-enough-operator-token-0123';
const OPERATOR_ONLY = ['/_mirrorgate/metrics', '/_mirrorgate/mirrors', '/_mirrorgate/explain?path=releases/1.0/big.iso'];

t.test('from loopback (the default admin.allow) every operator endpoint answers', async (t) => {
  const { app } = await build(t);
  for (const url of OPERATOR_ONLY) t.equal((await app.inject({ url, remoteAddress: '127.0.0.1' })).statusCode, 200, url);
  t.match((await app.inject({ url: '/_mirrorgate/health', remoteAddress: '::1' })).json(), { status: 'ok', files: 5, mirrors: 2 });
});

t.test('from elsewhere: 403, and the public health check says only that it is up', async (t) => {
  const { app } = await build(t);
  for (const url of OPERATOR_ONLY) {
    const res = await app.inject({ url, remoteAddress: '203.0.113.5' });
    t.equal(res.statusCode, 403, url);
    t.notMatch(res.body, /example\.org|eu|us/, `${url} shows nothing of the mirrors`);
  }
  const health = await app.inject({ url: '/_mirrorgate/health', remoteAddress: '203.0.113.5' });
  t.equal(health.statusCode, 200);
  t.same(health.json(), { status: 'ok' }, 'no memory use, no counts');
});

t.test('a public client behind our trusted proxy is not loopback', async (t) => {
  const { app } = await build(t);
  const res = await app.inject({ url: '/_mirrorgate/mirrors', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '198.51.100.7' } });
  t.equal(res.statusCode, 403);
});

t.test('admin.allow opens the endpoints to the networks it names, and a reload applies it', async (t) => {
  const { app, fixture } = await build(t);
  t.equal((await app.inject({ url: '/_mirrorgate/metrics', remoteAddress: '10.1.2.3' })).statusCode, 403);
  writeFileSync(fixture.configPath, JSON.stringify({
    repository: './repository', probe: { enabled: false }, mirrors: DEFAULT_MIRRORS, admin: { allow: ['10.0.0.0/8'] },
  }));
  t.ok((await app.mirrorgate.reload()).ok);
  t.equal((await app.inject({ url: '/_mirrorgate/metrics', remoteAddress: '10.1.2.3' })).statusCode, 200);
  t.equal((await app.inject({ url: '/_mirrorgate/metrics', remoteAddress: '127.0.0.1' })).statusCode, 403, 'loopback only while listed');
});

t.test('with a token: 401 without it or with a wrong one, 200 with it', async (t) => {
  const fixture = makeFixture(t);
  const app = await buildApp({ configPath: fixture.configPath, dbPath: fixture.dbPath, adminToken: TOKEN });
  t.teardown(() => app.close());
  const from = (authorization?: string) => app.inject({
    url: '/_mirrorgate/mirrors', remoteAddress: '203.0.113.5', headers: authorization === undefined ? {} : { authorization },
  });
  const none = await from();
  t.equal(none.statusCode, 401);
  t.equal(none.headers['www-authenticate'], 'Bearer realm="mirrorgate"');
  t.equal((await from(`Bearer ${TOKEN}x`)).statusCode, 401);
  t.equal((await from(`Basic ${Buffer.from(`a:${TOKEN}`).toString('base64')}`)).statusCode, 401);
  t.equal((await from(`Bearer ${TOKEN}`)).statusCode, 200);
  t.match((await app.inject({ url: '/_mirrorgate/health', remoteAddress: '203.0.113.5', headers: { authorization: `Bearer ${TOKEN}` } })).json(), { files: 5 });
});

t.test('the token comes from the environment or a file, and a weak one is refused', async (t) => {
  const dir = t.testdir({ token: `${TOKEN}\n`, short: 'abc\n' });
  t.equal(await readAdminToken(undefined, {}), undefined);
  t.equal(await readAdminToken(undefined, { MIRRORGATE_ADMIN_TOKEN: TOKEN }), TOKEN);
  t.equal(await readAdminToken(join(dir, 'token'), {}), TOKEN);
  t.equal(await readAdminToken(undefined, { MIRRORGATE_ADMIN_TOKEN_FILE: join(dir, 'token') }), TOKEN);
  await t.rejects(readAdminToken(join(dir, 'short'), {}), { code: 'MG_ERR_SETTINGS_INVALID', message: /at least 16 characters/ });
  await t.rejects(readAdminToken(join(dir, 'absent'), {}), { code: 'MG_ERR_SETTINGS_INVALID', message: /cannot read it/ });
});

t.test('/metrics: a disabled mirror is not up', async (t) => {
  const { app } = await build(t, { config: { mirrors: [DEFAULT_MIRRORS[0], { ...DEFAULT_MIRRORS[1], enabled: false }] } });
  const body = (await app.inject({ url: '/_mirrorgate/metrics' })).body;
  t.match(body, /mirrorgate_mirror_up\{mirror="eu"\} 1/);
  t.match(body, /mirrorgate_mirror_up\{mirror="us"\} 0/);
});

t.test('mirrorgate serve reads the token from MIRRORGATE_ADMIN_TOKEN_FILE', async (t) => {
  const fixture = makeFixture(t);
  const tokenFile = join(fixture.dir, 'admin-token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const { port } = await serveProcess(t, fixture, ['env', `MIRRORGATE_ADMIN_TOKEN_FILE=${tokenFile}`]);
  // From a public client behind the trusted proxy (loopback), so only the token can let it in.
  const ask = (authorization?: string) => fetch(`http://127.0.0.1:${port}/_mirrorgate/mirrors`, {
    headers: { 'x-forwarded-for': '203.0.113.5', ...(authorization === undefined ? {} : { authorization }) },
  });
  t.equal((await ask()).status, 401);
  t.equal((await ask(`Bearer ${TOKEN}`)).status, 200);
});
