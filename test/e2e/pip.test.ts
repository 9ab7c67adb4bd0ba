// pip, against a PEP 503 simple index kept in the repository as simple/NAME/index.html: the directory
// answers with its index.html, the wheel link goes through mirrorgate to a loopback mirror, and pip
// checks the link's #sha256= fragment. pip runs isolated from any machine-wide or user config.
import t from 'tap';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { startMirrorServer } from '../../src/demo/mirror-server.js';
import { build, makeFixture, writeConfig } from '../helper.js';

const WHEEL = 'demo_pkg-1.0-py3-none-any.whl';

/** A real wheel (a zip with dist-info), built by Python's zipfile: about 40 KiB, so it is redirected. */
function makeWheel(dir: string, path: string): Promise<void> {
  const script = `
import sys, zipfile, hashlib, base64, os
out = sys.argv[1]
files = {
  'demo_pkg/__init__.py': b'VERSION = "1.0"\\n',
  'demo_pkg/data.bin': os.urandom(40000),
  'demo_pkg-1.0.dist-info/METADATA': b'Metadata-Version: 2.1\\nName: demo-pkg\\nVersion: 1.0\\nSummary: mirrorgate test wheel\\n',
  'demo_pkg-1.0.dist-info/WHEEL': b'Wheel-Version: 1.0\\nGenerator: mirrorgate-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n',
}
record = ''
for name, data in files.items():
  digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
  record += f'{name},sha256={digest},{len(data)}\\n'
record += 'demo_pkg-1.0.dist-info/RECORD,,\\n'
files['demo_pkg-1.0.dist-info/RECORD'] = record.encode()
with zipfile.ZipFile(out, 'w', zipfile.ZIP_STORED) as z:
  for name, data in files.items():
    z.writestr(name, data)
`;
  return new Promise((resolve, reject) => execFile('python3', ['-c', script, path], { cwd: dir }, (e) => (e ? reject(e) : resolve())));
}

function pip(args: string[], home: string): Promise<{ code: number; output: string }> {
  // Isolated: no config file (--isolated, PIP_CONFIG_FILE), no cache, no version check, a throwaway HOME.
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, PIP_CONFIG_FILE: '/dev/null', PIP_NO_CACHE_DIR: '1', LANG: 'C.UTF-8' };
  return new Promise((resolve) => {
    execFile('python3', ['-m', 'pip', 'download', '--isolated', '--no-cache-dir', '--disable-pip-version-check', '--no-deps', '--timeout', '30', ...args],
      { env, timeout: 240_000 }, (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code ?? -1), output: stdout + stderr }));
  });
}

t.test('pip download finds a wheel through simple/NAME/index.html, follows the redirect and checks #sha256=', async (t) => {
  const fixture = makeFixture(t, { files: { 'probe.txt': 5000 } });
  const repo = fixture.repository;
  mkdirSync(join(repo, 'packages'));
  mkdirSync(join(repo, 'simple/demo-pkg'), { recursive: true });
  await makeWheel(fixture.dir, join(repo, 'packages', WHEEL));
  const wheel = readFileSync(join(repo, 'packages', WHEEL));
  const hex = createHash('sha256').update(wheel).digest('hex');
  writeFileSync(join(repo, 'simple/index.html'), '<!DOCTYPE html><html><body><a href="demo-pkg/">demo-pkg</a></body></html>\n');
  writeFileSync(join(repo, 'simple/demo-pkg/index.html'),
    `<!DOCTYPE html><html><body><a href="../../packages/${WHEEL}#sha256=${hex}">${WHEEL}</a></body></html>\n`);

  const mirror = await startMirrorServer(repo);
  t.teardown(() => mirror.close());
  writeConfig(fixture.configPath, { mirrors: [{ name: 'm', url: mirror.url }], probe: { enabled: false } });
  const { app } = await build(t, { fixture });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const index = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/simple/`;
  const work = mkdtempSync(join(tmpdir(), 'mirrorgate-pip-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));

  const out = join(work, 'good');
  const good = await pip(['--index-url', index, '-d', out, 'demo-pkg'], work);
  t.equal(good.code, 0, good.output);
  t.same(readdirSync(out), [WHEEL]);
  t.equal(createHash('sha256').update(readFileSync(join(out, WHEEL))).digest('hex'), hex, 'the right bytes');
  t.ok(mirror.log.includes(`GET /packages/${WHEEL}`), 'the wheel came from the mirror');

  // The fragment is checked: a mirror with other bytes of the same size makes pip fail, not install them.
  mirror.content.set(`packages/${WHEEL}`, randomBytes(wheel.length));
  const bad = await pip(['--index-url', index, '-d', join(work, 'bad'), 'demo-pkg'], work);
  t.not(bad.code, 0);
  t.match(bad.output, /HASHES|hash/i, 'pip names the hash mismatch');
});
