// What a new operator meets in the first hour (issue 12, part 4), checked against the real files: the
// demo's --port flag and banner, and the README's promises about flags, reload time, Node versions and
// build tools. (.ci/package-check covers the packed, globally installed command and engine warnings.)
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { serve } from '../../src/cli/commands/serve.js';
import { ConfigWatcher } from '../../src/runtime/config-watcher.js';
import { stopGroup, waitFor } from '../helper.js';

const README = readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8');
const DEMO = join(PACKAGE_ROOT, 'dist/src/demo/main.js');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

t.test('npm run demo -- --port N serves on N, and its banner promises what the README does', async (t) => {
  t.ok(existsSync(DEMO), 'the demo is built (npm test builds)');
  const port = await freePort();
  const child = spawn(process.execPath, [DEMO, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MIRRORGATE_PORT: '1' }, detached: true });
  t.teardown(() => stopGroup(child));
  let output = '';
  child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
  t.ok(await waitFor(() => output.includes('Ctrl-C stops the demo') || child.exitCode !== null, 60_000), 'the banner is printed');
  t.match(output, `mirrorgate demo is running at http://localhost:${port}`, 'the flag wins over MIRRORGATE_PORT');
  const answer = await fetch(`http://127.0.0.1:${port}/releases/1.0/demo-1.0-amd64.iso`, { method: 'HEAD', redirect: 'manual' });
  t.equal(answer.status, 302);
  // The banner and the README name the same reload time, and it is the watcher's.
  const banner = /a valid edit applies within about (\d+) ms/.exec(output)?.[1];
  t.ok(banner, 'the banner names the reload time');
  t.match(README, new RegExp(`applies a valid edit within about ${banner} ms`), 'the README names the same');
  t.equal(Number(banner), (new ConfigWatcher('x', () => undefined) as unknown as { debounceMs: number }).debounceMs, 'and it is the watcher\'s debounce');
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGINT');
  await exited;
  const bad = spawn(process.execPath, [DEMO, '--port']);
  t.equal(await new Promise((resolve) => bad.on('exit', resolve)), 2, 'a flag without its value is a usage error');
});

t.test('the README documents every serve flag, the Node versions and the build tools', async (t) => {
  const settings = README.slice(README.indexOf('### Process settings'), README.indexOf('## Operations'));
  for (const flag of new Set(serve.help.match(/--[a-z-]+/g))) {
    if (flag === '--help') continue;
    t.match(settings, new RegExp(`\`${flag}[ \`]`), `${flag} is in the process settings table`);
  }
  const quickStart = README.slice(README.indexOf('## Quick start'), README.indexOf('## How a request'));
  t.match(quickStart, /Node\.js 20, 22 or 24/);
  t.match(quickStart, /`python3`, `make` and `g\+\+`/);
  t.match(quickStart, /npm run demo -- --port/);
  t.match(quickStart, /npm install -g \.\/mirrorgate-\d+\.\d+\.\d+\.tgz/);
  t.notMatch(quickStart, /npx mirrorgate (check|serve)/, 'no npx outside the checkout');
  t.match(quickStart, /The database is `\.\/mirrorgate\.db` in the directory `serve` was started from/, 'where --db lives by default');
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string; engines: { node: string } };
  t.match(quickStart, `mirrorgate-${pkg.version}.tgz`, 'the tarball name is this version\'s');
  t.equal(pkg.engines.node, '>=20', 'the engines field claims what the README says');
});
