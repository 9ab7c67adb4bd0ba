import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { COMMANDS } from '../../src/cli/main.js';
import { build, makeFixture, writeConfig } from '../helper.js';

async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (s) => { stdout += s; }, stderr: (s) => { stderr += s; }, env });
  return { code, stdout, stderr };
}

t.test('every command has --help', async (t) => {
  for (const c of COMMANDS) {
    const r = await cli([c.name, '--help']);
    t.equal(r.code, 0, c.name);
    t.match(r.stdout, new RegExp(`^Usage: mirrorgate ${c.name}`), c.name);
  }
  t.match((await cli(['--help'])).stdout, /serve.*\n.*check/s);
  t.equal((await cli(['frobnicate'])).code, 2);
  t.match((await cli(['stats', '--bogus'])).stderr, /Unknown option '--bogus'/);
});

t.test('check: exit 0 with a summary, or exit 1 with every problem and its path', async (t) => {
  const fx = makeFixture(t);
  const ok = await cli(['check', '--config', fx.configPath]);
  t.equal(ok.code, 0);
  t.match(ok.stdout, /ok \(2 mirrors, 2 enabled\)/);
  writeConfig(fx.configPath, { mirrors: [{ name: 'x', url: 'ftp://x', weight: 0, country: 'Germany' }] });
  const bad = await cli(['check'], { MIRRORGATE_CONFIG: fx.configPath });
  t.equal(bad.code, 1);
  t.match(bad.stderr, /mirrors\[0\]\.weight \(line \d+\): must be > 0/);
  t.match(bad.stderr, /mirrors\[0\]\.url \(line \d+\): "ftp:\/\/x" must use http or https/);
  t.match(bad.stderr, /mirrors\[0\]\.country \(line \d+\): "Germany" is not an ISO 3166-1/);
  writeFileSync(fx.configPath, '{');
  t.match(await cli(['check', '--config', fx.configPath]), { code: 1, stderr: /not valid JSON/ });
  t.match(await cli(['check', '--config', join(fx.dir, 'none.json')]), { code: 1, stderr: /cannot read config/ });
});

t.test('migrate reports versions; scan indexes; stats and mirrors show traffic', async (t) => {
  const fx = makeFixture(t);
  const flags = ['--config', fx.configPath, '--db', fx.dbPath];
  t.match(await cli(['migrate', ...flags]), { code: 0, stdout: /schema version 0 → \d+ \(applied 001_initial\.sql/ });
  t.match(await cli(['migrate', ...flags]), { code: 0, stdout: /up to date/ });
  t.match(await cli(['scan', '--hash', ...flags]), { code: 0, stdout: /5 files \(5 added, 0 changed, 0 removed\).*\n.*sha256 known for 5 of 5/ });

  const { app } = await build(t, { fixture: fx });
  for (let i = 0; i < 10; i++) await app.inject({ url: '/releases/1.0/big.iso?avoid=us' });
  for (let i = 0; i < 5; i++) await app.inject({ url: '/releases/1.0/big.iso?avoid=eu' });
  await app.inject({ url: '/README.txt' });
  app.mirrorgate.flush();

  const table = await cli(['stats', ...flags]);
  t.equal(table.code, 0);
  t.match(table.stdout, /^target\s+requests\s+bytes\s+share \(req\)\s+share \(bytes\)/);
  t.match(table.stdout, /\neu\s+10\s+100\.0 MiB\s+62\.5%\s+66\.7%/);
  t.match(table.stdout, /\nus\s+5\s+50\.0 MiB\s+31\.3%\s+33\.3%/);
  t.match(table.stdout, /\n_local\s+1\s+100 B/);
  const json = JSON.parse((await cli(['stats', '--json', '--since', '30m', ...flags])).stdout);
  t.match(json, { requests: 16, targets: [{ target: 'eu', requests: 10 }, { target: 'us', requests: 5 }, { target: '_local', requests: 1 }] });
  t.match(await cli(['stats', '--since', 'yesterday', ...flags]), { code: 2, stderr: /not a duration/ });

  const mirrors = await cli(['mirrors', ...flags]);
  t.match(mirrors.stdout, /^name\s+state\s+reason\s+since\s+weight\s+where/);
  t.match(mirrors.stdout, /\neu\s+unprobed\s+-\s+-\s+100\s+DE\/EU\s+1000\s+10\s+100\.0 MiB\s+https:\/\/eu\.example\.org\/pub\//);
  t.match(JSON.parse((await cli(['mirrors', '--json', ...flags])).stdout), [{ name: 'eu', requests1h: 10 }, { name: 'us', requests1h: 5 }]);
});

t.test('serve rejects bad settings with the flag and variable named', async (t) => {
  t.match(await cli(['serve', '--port', 'eighty']), { code: 1, stderr: /--port \/ MIRRORGATE_PORT: "eighty"/ });
  t.match(await cli(['serve'], { MIRRORGATE_LOG_LEVEL: 'loud' }), { code: 1, stderr: /MIRRORGATE_LOG_LEVEL: "loud"/ });
});

t.test('explain prints the ranked candidates and the excluded mirrors with reasons', async (t) => {
  const fx = makeFixture(t);
  writeConfig(fx.configPath, {
    mirrors: [
      { name: 'uk', url: 'http://uk.example.org/', country: 'GB', latitude: 51.5, longitude: -0.1 },
      { name: 'de', url: 'https://de.example.org/', country: 'DE', latitude: 50.1, longitude: 8.7, weight: 300 },
      { name: 'fr', url: 'https://fr.example.org/', country: 'FR', latitude: 48.9, longitude: 2.35 },
      { name: 'us', url: 'https://us.example.org/', country: 'US', latitude: 38.9, longitude: -77.0 },
      { name: 'off', url: 'https://off.example.org/', enabled: false },
    ],
  });
  const flags = ['--config', fx.configPath, '--db', fx.dbPath];
  await cli(['scan', ...flags]);
  const r = await cli(['explain', '/releases/1.0/big.iso', '--ip', '81.2.69.142', '--https', ...flags]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^releases\/1\.0\/big\.iso \(10\.0 MiB\) for 81\.2\.69\.142 \(GB, EU, 51\.5,-0\.1\) over https/);
  t.match(r.stdout, /chosen: (de|fr) \(tier continent\)/);
  t.match(r.stdout, /rank\s+mirror\s+tier\s+distance\s+weight\s+share\s+status/);
  t.match(r.stdout, /\n[12]\s+de\s+continent\s+\d+ km\s+300\s+75\.0%/);
  t.match(r.stdout, /\n[12]\s+fr\s+continent\s+\d+ km\s+100\s+25\.0%/);
  t.match(r.stdout, /\n-\s+us\s+nearby\s+\d+ km\s+100\s+-\s+wider-tier/);
  t.match(r.stdout, /excluded:\n {2}uk: no-https\n {2}off: disabled/);
  const json = JSON.parse((await cli(['explain', 'releases/1.0/big.iso', '--ip', '8.8.8.8', '--json', ...flags])).stdout);
  t.match(json, { chosen: 'us', tier: 'country', client: { location: { country: 'US' } } });
  t.match(await cli(['explain', 'missing.iso', ...flags]), { code: 1, stderr: /not in the catalog/ });
  t.match(await cli(['explain', 'x', '--ip', 'nope', ...flags]), { code: 2, stderr: /not an IP address/ });
});

t.test('serve on a port that is taken says so and exits 1', async (t) => {
  const { createServer } = await import('node:net');
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const port = (blocker.address() as { port: number }).port;
  const fx = makeFixture(t);
  const r = await cli(['serve', '--port', String(port), '--config', fx.configPath, '--db', fx.dbPath, '--log-level', 'silent']);
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\)`));
});

t.test('check fails on a missing repository unless told it will exist, and names the line of a JSON syntax error', async (t) => {
  const fx = makeFixture(t);
  writeConfig(fx.configPath, { repository: join(fx.dir, 'not-yet'), mirrors: [] });
  t.match(await cli(['check', '--config', fx.configPath]), { code: 1, stderr: /repository: .*not-yet is not a directory \(pass --allow-missing-repository/ });
  t.match(await cli(['check', '--allow-missing-repository', '--config', fx.configPath]), { code: 0, stdout: /ok \(0 mirrors/ });
  writeFileSync(fx.configPath, '{\n  "repository": "./repository",\n  "mirrors": [\n    { "name": "a", },\n  ]\n}\n');
  t.match(await cli(['check', '--config', fx.configPath]), { code: 1, stderr: /not valid JSON: line 4 column 20: / });
  writeFileSync(fx.configPath, '{\n  "mirrors": [\n');
  t.match(await cli(['check', '--config', fx.configPath]), { code: 1, stderr: /not valid JSON: line 3 column 1: / });
});

t.test('stats, mirrors and explain never create a database, and say which file they read', async (t) => {
  const fx = makeFixture(t);
  const { existsSync } = await import('node:fs');
  for (const command of [['stats'], ['mirrors'], ['explain', 'README.txt']]) {
    const r = await cli([...command, '--config', fx.configPath, '--db', fx.dbPath]);
    t.equal(r.code, 1, command[0]);
    t.match(r.stderr, new RegExp(`no database at ${fx.dbPath.replace(/[.]/g, '\\.')}: give the server's --db`), command[0]);
    t.notOk(existsSync(fx.dbPath), `${command[0]} created no file`);
  }
  await cli(['migrate', '--db', fx.dbPath]);
  const r = await cli(['stats', '--config', fx.configPath, '--db', fx.dbPath]);
  t.equal(r.code, 0);
  t.equal(r.stderr, `reading ${fx.dbPath}\n`);
});

t.test('explain judges by the probe results in the database, says when there are none, and chooses no mirror for a small file', async (t) => {
  const fx = makeFixture(t, { config: { probe: { enabled: true }, smallFileBytes: 65536 } });
  const flags = ['--config', fx.configPath, '--db', fx.dbPath];
  await cli(['scan', ...flags]);
  const none = await cli(['explain', 'releases/1.0/big.iso', '--ip', '8.8.8.8', ...flags]);
  t.match(none.stdout, /no probe results in this database yet/);
  t.match(none.stdout, /\n-\s+us\s+country.*unverified/, 'no evidence yet: every copy is unverified');
  const { openDb } = await import('../../src/db/open.js');
  const { ProbeStore } = await import('../../src/probing/store.js');
  const { db } = openDb(fx.dbPath);
  const now = Date.now();
  const store = new ProbeStore(db);
  store.saveHealth('us', { state: 'down', reason: 'connection refused', since: now, checkedAt: now, failures: 3, successes: 0, latencyMs: undefined }, 1000, undefined);
  store.saveHealth('eu', { state: 'up', reason: 'ok', since: now, checkedAt: now, failures: 0, successes: 3, latencyMs: 12 }, 1000, now);
  db.close();
  const probed = await cli(['explain', 'releases/1.0/big.iso', '--ip', '8.8.8.8', ...flags]);
  t.notMatch(probed.stdout, /no probe results/);
  t.match(probed.stdout, /chosen: eu/, 'the down mirror is not chosen offline either');
  t.match(probed.stdout, /excluded:\n(.*\n)*? {2}us: down/);
  const small = await cli(['explain', 'releases/1.0/medium.tar.gz', '--ip', '8.8.8.8', ...flags]);
  t.match(small.stdout, /served directly by mirrorgate, no mirror is chosen/);
  t.notMatch(small.stdout, /^chosen: | {2}chosen$/m);
  const json = JSON.parse((await cli(['explain', 'releases/1.0/medium.tar.gz', '--json', ...flags])).stdout);
  t.match(json, { smallFile: true, chosen: null, tier: null, probeState: true });
  t.notOk(json.mirrors.some((m: { status: string }) => m.status === 'chosen'));
});
