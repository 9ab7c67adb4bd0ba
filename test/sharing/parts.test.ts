// The cluster's parts one by one, against a real redis-server where Redis is involved: exactly-once
// totals, connection options, config errors, rendezvous spread, member liveness, running with a Redis
// that is not there, shared rate limiting, and --workers sharing load through Redis.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { get } from 'node:http';
import { TotalsBuffer, readClusterTotals } from '../../src/sharing/totals.js';
import { Keys, TOTALS_SCRIPT } from '../../src/sharing/keys.js';
import { Members, preferredProber, type MemberRecord } from '../../src/sharing/members.js';
import { redisOptions } from '../../src/sharing/connect.js';
import { validateConfig } from '../../src/config/load.js';
import { silentLog } from '../../src/log.js';
import { build, makeFixture, serveProcess, waitFor, waitForAsync, writeConfig } from '../helper.js';
import { setup } from '../probing/mirror-fixture.js';
import { freePort, getJson, startRedis, type MirrorRow } from './cluster-fixture.js';

t.test('a counter batch is added once, however often it is sent', async (t) => {
  const redis = await startRedis(t);
  const client = redis.client();
  const keys = new Keys('parts:');
  const buffer = new TotalsBuffer(keys, 'h1/main/1/ab', () => 86_400);
  const minute = Math.floor(Date.UTC(2026, 10, 28, 10, 30) / 60_000);
  buffer.add([{ minute, target: 'eu', requests: 3, bytes: 300 }, { minute: minute + 1, target: 'eu', requests: 2, bytes: 200 }]);
  buffer.add([{ minute, target: '_local', requests: 1, bytes: 10 }]);
  const batch = buffer.next();
  t.ok(batch, 'a batch');
  if (batch === undefined) return;
  t.equal(batch.rows, 2, 'summed per hour and target');
  const send = () => client.eval(TOTALS_SCRIPT, 1, ...batch.keys, ...batch.args);
  t.equal(await send(), 1, 'added');
  // The answer was lost: the same batch goes again.
  t.equal(buffer.next(), batch, 'the unacknowledged batch is offered again, same id');
  t.equal(await send(), 0, 'found already added');
  buffer.acknowledge(batch);
  t.equal(buffer.next(), undefined, 'nothing left');
  const hour = Math.floor(minute / 60) * 3600;
  t.same(await client.hgetall(keys.totalsHour(hour)), { 'requests:eu': '5', 'bytes:eu': '500', 'requests:_local': '1', 'bytes:_local': '10' });
  t.ok((await client.ttl(keys.totalsHour(hour))) > 86_000, 'the hour expires after the retention');
  const cluster = { redis: redis.url, passwordEnv: 'NONE', keyPrefix: 'parts:', leaseSeconds: 15, fallbackSeconds: 3, sharedRateLimit: false };
  const totals = await readClusterTotals(cluster, hour * 1000, hour * 1000 + 3_599_000, silentLog);
  t.same(Object.fromEntries(totals), { eu: { requests: 5, bytes: 500 }, _local: { requests: 1, bytes: 10 } }, 'stats --cluster reads them back');
  await redis.kill();
  await t.rejects(readClusterTotals(cluster, hour * 1000, hour * 1000, silentLog), { code: 'MG_ERR_CLUSTER_UNREACHABLE' }, 'a clear error without Redis');
});

t.test('connection options: TLS, database, and where the password comes from', async (t) => {
  const dir = makeFixture(t).dir;
  const file = join(dir, 'redis.pass');
  writeFileSync(file, 'from-file\n');
  const base = { passwordEnv: 'MG_TEST_REDIS_PASSWORD', keyPrefix: 'm:', leaseSeconds: 15, fallbackSeconds: 3, sharedRateLimit: false };
  const plain = redisOptions({ ...base, redis: 'redis://user:from-url@10.0.0.5:6400/3' }, {});
  t.match(plain, { host: '10.0.0.5', port: 6400, db: 3, username: 'user', password: 'from-url', enableOfflineQueue: false });
  t.equal(plain.tls, undefined, 'no TLS for redis://');
  t.equal(redisOptions({ ...base, redis: 'redis://:from-url@h:1' }, { MG_TEST_REDIS_PASSWORD: 'from-env' }).password, 'from-env', 'the variable wins over the URL');
  t.equal(redisOptions({ ...base, redis: 'redis://:from-url@h:1', passwordFile: file }, { MG_TEST_REDIS_PASSWORD: 'from-env' }).password, 'from-file',
    'the file wins over both, without its newline');
  const tls = redisOptions({ ...base, redis: 'rediss://cache.example.org' }, {});
  t.match(tls, { port: 6380, tls: { servername: 'cache.example.org' } }, 'rediss:// is TLS, default port 6380');
});

t.test('a bad cluster.redis is named with its line', async (t) => {
  for (const [redis, message] of [['http://x:1', /not redis: or rediss:/], ['not a url', /is not a URL/], ['redis://h:1/x', /not a database number/]] as const) {
    const result = validateConfig({ cluster: { redis } }, '/tmp/mirrors.json');
    t.notOk(result.ok, redis);
    if (!result.ok) t.match(result.problems, [{ path: 'cluster.redis', message }]);
  }
  const fixture = makeFixture(t, { config: { cluster: { redis: 'redis://127.0.0.1:6379', leaseSeconds: 1 } } });
  const { loadConfigFile } = await import('../../src/config/load.js');
  const result = await loadConfigFile(fixture.configPath);
  t.notOk(result.ok);
  if (!result.ok) t.match(result.problems, [{ path: 'cluster.leaseSeconds', line: Number }]);
});

t.test('rendezvous hashing spreads mirrors over probers and moves few when one leaves', async (t) => {
  const probers = ['h1/main/1/a', 'h2/main/2/b', 'h3/primary/3/c'];
  const mirrors = Array.from({ length: 300 }, (_, i) => `mirror-${i}`);
  const owners = new Map<string, number>();
  for (const m of mirrors) owners.set(preferredProber(m, probers) as string, (owners.get(preferredProber(m, probers) as string) ?? 0) + 1);
  for (const p of probers) t.ok((owners.get(p) ?? 0) > 60 && (owners.get(p) ?? 0) < 140, `${p} prefers ${owners.get(p)} of 300`);
  const moved = mirrors.filter((m) => preferredProber(m, probers) !== 'h3/primary/3/c' && preferredProber(m, probers) !== preferredProber(m, probers.slice(0, 2)));
  t.equal(moved.length, 0, 'when h3 leaves, only its own mirrors move');
  t.equal(preferredProber('x', []), undefined, 'nobody to prefer');
});

t.test('a member is live while its beat moves, by the reader\'s clock', async (t) => {
  const members = new Members();
  const record = (beat: number): string => JSON.stringify({ name: 'h1', process: 'p1', role: 'single', probes: true, digest: 'd', beat, load: {} } satisfies MemberRecord);
  members.update({ p1: record(1), junk: '{' }, 0);
  t.equal(members.live(0).length, 1, 'live; an unreadable record is skipped');
  members.update({ p1: record(1) }, 4000);
  t.equal(members.live(4999).length, 1, 'the same beat for less than 5 s: still live');
  t.equal(members.live(5000).length, 0, 'not after 5 s');
  members.update({ p1: record(2) }, 6000);
  t.equal(members.live(6000).length, 1, 'live again when the beat moves');
  t.same(members.forgotten(6000 + 60_000), ['p1'], 'forgotten after a minute without a beat');
});

t.test('a Redis that is not there: the instance probes on its own and redirects', async (t) => {
  const port = await freePort();
  const { app } = await setup(t, { config: { cluster: { redis: `redis://127.0.0.1:${port}`, fallbackSeconds: 1 } } });
  const res = await app.inject({ url: '/releases/1.0/big.iso' });
  t.not(res.statusCode, 500, 'no 5xx');
  t.equal(app.mirrorgate.sharing?.live, false, 'not connected');
  t.ok(await waitFor(() => (app.mirrorgate.sharing?.stats.fallbacks ?? 0) >= 1, 10_000), 'fell back (and the mirrors came up: it probed them itself)',
    { status: app.mirrorgate.sharing?.status() });
});

t.test('shared rate limiting: one budget across instances, and open when Redis is gone', async (t) => {
  const redis = await startRedis(t);
  const config = { rateLimit: { max: 10, windowSeconds: 60 }, cluster: { redis: redis.url, keyPrefix: 'rl:', sharedRateLimit: true } };
  const one = await build(t, { config });
  const two = await build(t, { config });
  await waitFor(() => one.app.mirrorgate.sharing?.live === true, 10_000);
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) {
    for (const { app } of [one, two]) statuses.push((await app.inject({ url: '/README.txt', remoteAddress: '192.0.2.7' })).statusCode);
  }
  t.equal(statuses.filter((s) => s === 200).length, 10, '10 of 16 requests across two instances pass');
  t.equal(statuses.filter((s) => s === 429).length, 6, 'the rest are 429');
  await redis.kill();
  const after = await one.app.inject({ url: '/README.txt', remoteAddress: '192.0.2.8' });
  t.equal(after.statusCode, 200, 'with Redis gone the limiter lets requests through');
});

t.test('--workers 2 with Redis: each worker counts its sibling\'s bytes, not its own × 2', async (t) => {
  const redis = await startRedis(t);
  const fixture = makeFixture(t);
  writeConfig(fixture.configPath, {
    mirrors: [{ name: 'only', url: 'https://only.example.org/', bandwidthMbps: 100 }],
    rateLimit: { enabled: false }, capacity: { windowSeconds: 3600 },
    cluster: { redis: redis.url, keyPrefix: 'workers:' },
  });
  const served = await serveProcess(t, fixture, [], ['--workers', '2', '--instance', 'w']);
  const base = `http://127.0.0.1:${served.port}`;
  t.ok(await waitForAsync(async () => {
    const health = await getJson<{ cluster: { members: { role: string }[] } }>(`${base}/_mirrorgate/health`);
    return health.cluster.members.length === 3;
  }, 30_000, 100), 'the primary and both workers are members');
  const size = 10 * 1024 * 1024;
  for (let i = 0; i < 40; i++) {
    const res = await fetch(`${base}/releases/1.0/big.iso`, { redirect: 'manual' });
    await res.body?.cancel();
    if (res.status !== 302) t.fail(`answered ${res.status}, not a redirect`);
  }
  const want = (40 * size * 8) / (100 * 1e6 * 3600);
  t.ok(await waitForAsync(async () => {
    // New connections reach either worker: both must say the same.
    for (let i = 0; i < 4; i++) {
      const rows = JSON.parse(await freshConnection(`${base}/_mirrorgate/mirrors`)) as MirrorRow[];
      if (Math.abs((rows[0]?.utilisation ?? 0) - want) > want * 1e-9) return false;
    }
    return true;
  }, 20_000, 100), `every worker's utilisation is all 40 redirects (${want.toFixed(6)})`);
});

/** A GET on a new connection (no keep-alive pool), so the kernel may hand it to either worker. */
function freshConnection(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => resolve(body)).on('error', reject);
    }).on('error', reject);
  });
}

t.test('an unreadable cluster.passwordFile is a config problem, not a crash at connect', async (t) => {
  const result = validateConfig({ cluster: { redis: 'redis://h:1', passwordFile: './no-such-file' } }, '/tmp/mirrors.json');
  t.notOk(result.ok);
  if (!result.ok) t.match(result.problems, [{ path: 'cluster.passwordFile', message: /cannot read \/tmp\/no-such-file/ }]);
});

t.test('rediss:// with a private CA and a password from a file, against redis-server with TLS', async (t) => {
  const dir = makeFixture(t).dir;
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('ca.key'), '-out', at('ca.crt'), '-days', '2', '-subj', '/CN=mirrorgate test CA');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('server.key'), '-out', at('server.csr'), '-subj', '/CN=localhost');
  writeFileSync(at('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl('x509', '-req', '-in', at('server.csr'), '-CA', at('ca.crt'), '-CAkey', at('ca.key'), '-CAcreateserial', '-out', at('server.crt'),
    '-days', '2', '-extfile', at('san.ext'));
  writeFileSync(at('redis.pass'), 's3cret-pass\n');
  const port = await freePort();
  const server = spawn('redis-server', ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--save', '', '--requirepass', 's3cret-pass',
    '--tls-cert-file', at('server.crt'), '--tls-key-file', at('server.key'), '--tls-ca-cert-file', at('ca.crt'), '--tls-auth-clients', 'no'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => server.on('exit', resolve));
  t.teardown(async () => {
    server.kill('SIGKILL');
    await exited;
  });
  const cluster = (extra: object) => ({ cluster: { redis: `rediss://127.0.0.1:${port}`, tlsCaFile: './ca.crt', passwordFile: './redis.pass', ...extra } });
  const fixture = makeFixture(t, { config: cluster({}) });
  writeFileSync(join(fixture.dir, 'ca.crt'), readFileSync(at('ca.crt')));
  writeFileSync(join(fixture.dir, 'redis.pass'), readFileSync(at('redis.pass')));
  const { app } = await build(t, { fixture });
  t.ok(await waitFor(() => app.mirrorgate.sharing?.status().members.length === 1, 20_000), 'connected over TLS with the password: its own record is read back');
  t.equal(app.mirrorgate.sharing?.live, true);

  // The wrong password: no connection, the instance runs alone (and says so).
  const wrong = makeFixture(t, { config: cluster({ fallbackSeconds: 1 }) });
  writeFileSync(join(wrong.dir, 'ca.crt'), readFileSync(at('ca.crt')));
  writeFileSync(join(wrong.dir, 'redis.pass'), 'not-it\n');
  const alone = await build(t, { fixture: wrong });
  t.ok(await waitFor(() => (alone.app.mirrorgate.sharing?.stats.fallbacks ?? 0) >= 1, 20_000), 'a wrong password: fallen back, still serving');
  t.equal((await alone.app.inject({ url: '/README.txt' })).statusCode, 200);
});
