// aria2c, a real multi-source client, against mirrorgate and three loopback mirrors: from a Metalink
// (RFC 5854) document with piece hashes, also when one mirror serves a corrupted piece, and from the
// plain URL, where it learns the mirrors and the sha-256 from the 302's Link and Digest headers
// (Metalink/HTTP, RFC 6249).
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { startMirrorServer, type MirrorServer } from '../../src/demo/mirror-server.js';
import { build, makeFixture, waitFor, writeConfig } from '../helper.js';

const SIZE = 6 * 1024 * 1024 + 12345;
const PIECE = 256 * 1024;

function aria2(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('aria2c', ['--no-conf', '--console-log-level=warn', '--summary-interval=0', '--allow-overwrite=true', '--auto-file-renaming=false',
      '--connect-timeout=10', '--timeout=20', '--max-tries=20', '--retry-wait=0', ...args], { cwd, timeout: 240_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

async function setUp(t: Test) {
  const fixture = makeFixture(t, { files: { 'probe.txt': 5000 } });
  mkdirSync(join(fixture.repository, 'pub'));
  const content = randomBytes(SIZE);
  writeFileSync(join(fixture.repository, 'pub/big.bin'), content);
  const mirrors: MirrorServer[] = [];
  for (let i = 0; i < 3; i++) {
    // Three hosts, as aria2c counts connections per host: 127.0.0.11, .12 and .13.
    const m = await startMirrorServer(fixture.repository, 0, `127.0.0.${11 + i}`);
    t.teardown(() => m.close());
    // Slow enough that aria2c splits the file over several mirrors instead of finishing on the first.
    m.throttleBytesPerSecond = 4 * 1024 * 1024;
    mirrors.push(m);
  }
  // Probing off: every enabled mirror counts as holding every file, so the corrupt one stays listed.
  writeConfig(fixture.configPath, {
    mirrors: mirrors.map((m, i) => ({ name: `m${i}`, url: m.url, weight: 100 })),
    probe: { enabled: false },
    rateLimit: { enabled: false },
  });
  const { app } = await build(t, { fixture });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  const catalog = app.mirrorgate.catalog;
  t.ok(await waitFor(() => catalog.sha256Of(catalog.lookup('pub/big.bin')!) !== undefined, 60_000), 'the file is hashed');
  const out = mkdtempSync(join(tmpdir(), 'mirrorgate-aria2-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const gets = (m: MirrorServer) => m.log.filter((l) => l === 'GET /pub/big.bin').length;
  return { base: `http://127.0.0.1:${port}`, content, mirrors, out, gets };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

t.test('aria2c with a .meta4: a multi-source download, checked by its sha-256', async (t) => {
  const { base, content, mirrors, out, gets } = await setUp(t);
  const res = await aria2(['--split=3', '--max-connection-per-server=1', '--min-split-size=1M', '-d', out, `${base}/pub/big.bin.meta4`], out);
  t.equal(res.code, 0, `aria2c succeeded ${res.stdout}${res.stderr}`);
  t.equal(sha(readFileSync(join(out, 'big.bin'))), sha(content), 'the right bytes');
  const used = mirrors.filter((m) => gets(m) > 0).length;
  t.equal(used, 3, `all three mirrors served part of it (${mirrors.map(gets).join(', ')} GETs)`);
});

t.test('aria2c with a .meta4 finishes with the right bytes when one mirror serves a corrupted piece', async (t) => {
  const { base, content, mirrors, out, gets } = await setUp(t);
  // Mirror 1 holds the same size, with one byte wrong in every fourth piece.
  const corrupt = Buffer.from(content);
  for (let at = PIECE / 2; at < SIZE; at += 4 * PIECE) corrupt[at] = (corrupt[at] as number) ^ 0xff;
  (mirrors[1] as MirrorServer).content.set('pub/big.bin', corrupt);
  const log = join(out, 'aria2.log');
  const res = await aria2(['--split=3', '--max-connection-per-server=1', '--min-split-size=1M', `--log=${log}`, '--log-level=info', '-d', out,
    `${base}/pub/big.bin.meta4`], out);
  t.equal(res.code, 0, `aria2c succeeded ${res.stdout}${res.stderr}`);
  t.equal(sha(readFileSync(join(out, 'big.bin'))), sha(content), 'the right bytes');
  t.ok(gets(mirrors[1] as MirrorServer) > 0, 'the corrupt mirror was used');
  t.match(readFileSync(log, 'utf8'), /Chunk checksum validation failed/i, 'a piece failed its hash and was fetched again');
});

t.test('aria2c given the plain URL follows the 302 and uses its Link and Digest headers', async (t) => {
  const { base, content, mirrors, out, gets } = await setUp(t);
  const res = await aria2(['--split=3', '--max-connection-per-server=1', '--min-split-size=1M', '-d', out, `${base}/pub/big.bin`], out);
  t.equal(res.code, 0, `aria2c succeeded ${res.stdout}${res.stderr}`);
  t.equal(sha(readFileSync(join(out, 'big.bin'))), sha(content), 'the right bytes');
  t.ok(mirrors.filter((m) => gets(m) > 0).length >= 2, `Link alternates used: ${mirrors.map(gets).join(', ')} GETs`);

  // The Digest is checked: with every mirror serving other bytes of the same size, aria2c refuses the file.
  rmSync(join(out, 'big.bin'), { force: true });
  for (const m of mirrors) m.content.set('pub/big.bin', randomBytes(SIZE));
  const bad = await aria2(['--split=3', '--max-connection-per-server=1', '--min-split-size=1M', '--max-tries=1', '-d', out, `${base}/pub/big.bin`], out);
  t.equal(bad.code, 32, `aria2c reports a checksum error (exit 32): ${bad.stdout}${bad.stderr}`);
  t.notOk(readdirSync(out).includes('big.bin') && sha(readFileSync(join(out, 'big.bin'))) === sha(content));
});
