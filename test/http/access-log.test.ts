// The optional access log: one tab-separated line per answered download, written without the request
// waiting; a failing disk (/dev/full) is counted and survived; SIGUSR1 reopens it under --workers too.
import t from 'tap';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { build, makeFixture, serveProcess, waitFor, waitForAsync } from '../helper.js';

const run = promisify(execFile);
const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : []);

t.test('one line per answered download: time, client, method, path, status, target, tier, bytes', async (t) => {
  const fixture = makeFixture(t, { config: { accessLog: { file: 'logs/access.log' }, trustProxy: ['127.0.0.1'], smallFileBytes: 65536 } });
  const file = join(fixture.dir, 'logs/access.log');
  const { app } = await build(t, { fixture });
  t.equal((await app.inject({ url: '/releases/1.0/big.iso', headers: { 'x-forwarded-for': '81.2.69.142' } })).statusCode, 302);
  t.equal((await app.inject({ url: '/releases/1.0/big.iso', headers: { range: 'bytes=0-99' } })).statusCode, 302);
  t.equal((await app.inject({ url: '/README.txt' })).statusCode, 200);
  t.equal((await app.inject({ method: 'HEAD', url: '/README.txt' })).statusCode, 200);
  t.equal((await app.inject({ url: '/no/such%20file' })).statusCode, 404);
  t.equal((await app.inject({ url: '/_mirrorgate/health' })).statusCode, 200, 'not a download: not logged');
  t.ok(await waitFor(() => lines(file).length >= 5), 'the lines reach the file');
  const fields = lines(file).map((l) => l.split('\t'));
  t.equal(fields.length, 5);
  t.ok(fields.every((f) => f.length === 8 && !Number.isNaN(Date.parse(f[0] ?? ''))), 'eight fields, an ISO time first');
  t.match(fields[0], [/Z$/, '81.2.69.142', 'GET', '/releases/1.0/big.iso', '302', 'eu', 'continent', String(10 * 1024 * 1024)]);
  t.match(fields[1], [/Z$/, '127.0.0.1', 'GET', '/releases/1.0/big.iso', '302', /^(eu|us)$/, 'world', '100']);
  t.match(fields[2], [/Z$/, '127.0.0.1', 'GET', '/README.txt', '200', '_local', '-', '100']);
  t.match(fields[3], [/Z$/, '127.0.0.1', 'HEAD', '/README.txt', '200', '_local', '-', '0']);
  t.match(fields[4], [/Z$/, '127.0.0.1', 'GET', '/no/such%20file', '404', '-', '-', '0'], 'the path as requested');
});

t.test('a disk that fails every write: answers go on, the errors are counted and logged', async (t) => {
  const fixture = makeFixture(t, { config: { accessLog: { file: '/dev/full' } } });
  const { app } = await build(t, { fixture });
  for (let i = 0; i < 20; i++) t.equal((await app.inject({ url: '/releases/1.0/big.iso' })).statusCode, 302);
  const errors = async () => Number(/^mirrorgate_access_log_errors_total (\d+)$/m.exec((await app.inject({ url: '/_mirrorgate/metrics' })).body)?.[1] ?? 0);
  let seen = 0;
  await waitForAsync(async () => (seen = await errors()) > 0, 20_000);
  t.ok(seen >= 1, `write errors counted (${seen})`);
  t.equal((await app.inject({ url: '/releases/1.0/big.iso' })).statusCode, 302, 'still redirecting');
});

t.test('--workers 2: SIGUSR1 to the primary reopens the file in every worker; no line is lost', async (t) => {
  const fixture = makeFixture(t, { config: { accessLog: { file: 'access.log' }, rateLimit: { enabled: false } } });
  const file = join(fixture.dir, 'access.log');
  const server = await serveProcess(t, fixture, [], ['--workers', '2']);
  const get = () => run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${server.port}/releases/1.0/big.iso`]);
  let sent = 0;
  for (; sent < 20; sent++) await get();
  t.ok(await waitFor(() => lines(file).length === 20, 10_000), 'the first 20 lines');
  renameSync(file, `${file}.1`);
  process.kill(server.child.pid ?? 0, 'SIGUSR1');
  // Until a worker has had the word, its lines still go to the renamed file: send until 20 are in the new one.
  for (const deadline = Date.now() + 20_000; lines(file).length < 20 && Date.now() < deadline; sent++) await get();
  t.ok(await waitFor(() => lines(`${file}.1`).length + lines(file).length === sent, 10_000), `${sent} answers, ${sent} lines in the two files`);
  t.ok(lines(file).length >= 20, `the new file has the later lines (${lines(file).length})`);
  // Both workers write to the new file now: the old one gets nothing more.
  const old = lines(`${file}.1`).length;
  for (let i = 0; i < 10; i++) { await get(); sent++; }
  t.ok(await waitFor(() => lines(`${file}.1`).length + lines(file).length === sent, 10_000), 'every line written');
  t.equal(lines(`${file}.1`).length, old, 'none of them to the rotated file');
});
