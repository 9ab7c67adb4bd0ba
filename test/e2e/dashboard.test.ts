// The operator's dashboard in Debian's headless Chromium, against the real `mirrorgate serve` process
// with real traffic from curl, two real loopback mirrors (one of which fails mid-test) and one that was
// never there, plus 30 days of history written into the database first. The test reads what the page
// shows (the mirror table, every chart's bars, countries, top files, state changes), not only that it
// loaded, and leaves a screenshot in .tap/screenshots/.
import t from 'tap';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { openDb, statement } from '../../src/db/open.js';
import { startMirrorServer } from '../../src/demo/mirror-server.js';
import { makeFixture, serveProcess, waitForAsync, writeConfig } from '../helper.js';

const run = promisify(execFile);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = join(process.cwd(), '.tap', 'screenshots');
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const HOUR = 3_600_000;
const BIG = 10 * 1024 * 1024;

/** Sums of the bars in one chart, per series. */
async function bars(page: Page, chart: string): Promise<Record<string, number>> {
  return page.$$eval(`#${chart} rect`, (rects) => {
    const sums: Record<string, number> = {};
    for (const r of rects) {
      const series = r.getAttribute('data-series') ?? '';
      sums[series] = (sums[series] ?? 0) + Number(r.getAttribute('data-value'));
    }
    return sums;
  });
}

t.test('the dashboard shows the mirrors, the traffic charts, countries, top files and state changes', async (t) => {
  t.ok(existsSync(CHROMIUM), `${CHROMIUM} is installed (.ci/run installs Debian's chromium)`);
  const fixture = makeFixture(t);
  const a = await startMirrorServer(fixture.repository);
  const b = await startMirrorServer(fixture.repository);
  t.teardown(() => Promise.all([a.close(), b.close()]));
  writeFileSync(join(fixture.repository, 'TIMESTAMP'), `${Math.floor(Date.now() / 1000) + 60}\n`);
  writeConfig(fixture.configPath, {
    mirrors: [
      { name: 'a', url: a.url, country: 'DE', timestampFile: 'TIMESTAMP', probePath: 'README.txt' },
      { name: 'b', url: b.url, country: 'US', timestampFile: 'TIMESTAMP', probePath: 'README.txt' },
      { name: 'gone', url: 'http://127.0.0.1:9/', country: 'JP', probePath: 'README.txt' },
    ],
    probe: { enabled: true, intervalSeconds: 1, timeoutMs: 500, capacityEveryRounds: 0, failuresToDown: 2, maxBackoffSeconds: 1 },
    rateLimit: { enabled: false },
    trustProxy: ['127.0.0.1'],
    scheduler: 'weighted',
  });

  // History: five days ago mirror a sent 100 requests, France downloaded big.iso 4 times.
  const now = Date.now();
  const old = Math.floor(now / HOUR) - 5 * 24;
  const { db } = openDb(fixture.dbPath);
  statement(db, 'INSERT INTO counter_hours (hour, target, requests, bytes) VALUES (?, ?, ?, ?)').run(old, 'a', 100, 100 * BIG);
  statement(db, 'INSERT INTO counter_days (day, target, requests, bytes) VALUES (?, ?, ?, ?)').run(Math.floor(old / 24), 'a', 100, 100 * BIG);
  statement(db, 'INSERT INTO file_days (day, path, downloads, bytes) VALUES (?, ?, ?, ?)').run(Math.floor(old / 24), 'releases/1.0/big.iso', 4, 4 * BIG);
  statement(db, 'INSERT INTO country_days (day, country, downloads, bytes) VALUES (?, ?, ?, ?)').run(Math.floor(old / 24), 'FR', 4, 4 * BIG);
  db.close();

  const server = await serveProcess(t, fixture);
  const base = `http://127.0.0.1:${server.port}`;
  const json = async (path: string) => JSON.parse((await run('curl', ['-s', '--max-time', '10', `${base}${path}`])).stdout) as Record<string, unknown>;
  const mirrorStates = async () => Object.fromEntries(((await json('/_mirrorgate/mirrors')) as unknown as { name: string; state: string }[]).map((m) => [m.name, m.state]));
  t.ok(await waitForAsync(async () => {
    const s = await mirrorStates();
    return s.a === 'up' && s.b === 'up' && s.gone === 'down';
  }, 30_000), 'a and b up, gone down');

  // Real traffic: 30 downloads of the ISO from three countries, 5 of a small file served locally.
  const from = ['81.2.69.142', '8.8.8.8', '5.9.0.1'];
  for (let i = 0; i < 30; i++) {
    const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', `X-Forwarded-For: ${from[i % 3]}`, `${base}/releases/1.0/big.iso`]);
    t.equal(stdout, '302');
  }
  for (let i = 0; i < 5; i++) await run('curl', ['-s', '-o', '/dev/null', `${base}/README.txt`]);
  // Then b fails: the dashboard must show it down, with the change in its list.
  b.behaviour = { kind: 'status', status: 503 };
  t.ok(await waitForAsync(async () => (await mirrorStates()).b === 'down', 30_000), 'b is down');
  type Data = { mirrors: { name: string; lastDay: { requests: number } }[]; events: { mirror: string; to_state: string }[]; topFilesDay: { downloads: number }[] };
  t.ok(await waitForAsync(async () => {
    const data = await json('/_mirrorgate/dashboard.json') as unknown as Data;
    const day = data.mirrors.reduce((s, m) => s + m.lastDay.requests, 0);
    const downloads = data.topFilesDay.reduce((s, f) => s + f.downloads, 0);
    return day === 30 && downloads === 35 && data.events.some((e) => e.mirror === 'b' && e.to_state === 'down');
  }, 60_000, 250), 'the counters and download statistics are flushed, and the change is stored');

  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  t.teardown(() => browser.close());
  const page = await (await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1400, height: 900 } })).newPage();
  const answer = await page.goto(`${base}/_mirrorgate/`);
  t.equal(answer?.status(), 200);
  t.match(answer?.headers()['content-security-policy'] ?? '', /default-src 'none'/);

  // The mirror table: states, and the day's requests per mirror adding up to the 30 redirects.
  const cell = (mirror: string, field: string) => page.textContent(`#mirrors tr[data-mirror="${mirror}"] [data-field="${field}"]`);
  t.equal(await page.locator('#mirrors tbody tr').count(), 3);
  t.equal(await cell('a', 'state'), 'up');
  t.equal(await cell('b', 'state'), 'down');
  t.equal(await cell('gone', 'state'), 'down');
  const dayA = Number(await cell('a', 'requests-24h'));
  const dayB = Number(await cell('b', 'requests-24h'));
  t.equal(dayA + dayB, 30, `a ${dayA} + b ${dayB}: every redirect`);
  t.ok(dayA > 0 && dayB > 0, 'both served some');
  t.equal(Number(await page.getAttribute('#mirrors tr[data-mirror="a"] [data-field="bytes-24h"]', 'data-value')), dayA * BIG);
  t.equal(await cell('gone', 'requests-24h'), '0');

  // Each chart: the bars of each series add up to what was sent (the 30-day ones with the history too).
  t.same(await bars(page, 'requests-48h'), { a: dayA, b: dayB, _local: 5 }, 'requests per hour, 48 h');
  t.same(await bars(page, 'bytes-48h'), { a: dayA * BIG, b: dayB * BIG, _local: 500 }, 'bytes per hour, 48 h');
  t.same(await bars(page, 'requests-30d'), { a: dayA + 100, b: dayB, _local: 5 }, 'requests per day, 30 days, history included');
  t.same(await bars(page, 'bytes-30d'), { a: (dayA + 100) * BIG, b: dayB * BIG, _local: 500 }, 'bytes per day, 30 days');
  t.match(await page.textContent('#requests-48h .legend') ?? '', /a.*b.*_local.*_fallback/s, 'the repository and the fallback are in the legend');

  // Downloads by country (30 days), top files (24 h without the history, 30 days with it), state changes.
  const countries = Object.fromEntries(await page.$$eval('#countries tbody tr', (rows) => rows.map((r) => [r.getAttribute('data-country'), Number(r.children[1]?.textContent)])));
  t.same(countries, { GB: 10, US: 10, DE: 10, FR: 4, '--': 5 });
  const top = (id: string) => page.$$eval(`#${id} tbody tr`, (rows) => rows.map((r) => [r.getAttribute('data-path'), Number(r.children[1]?.textContent)]));
  t.same(await top('top-files-24h'), [['releases/1.0/big.iso', 30], ['README.txt', 5]]);
  t.same(await top('top-files-30d'), [['releases/1.0/big.iso', 34], ['README.txt', 5]]);
  const changes = await page.textContent('#events') ?? '';
  t.match(changes, /b\s*up → down/);
  t.match(changes, /gone\s*unknown → down/);

  mkdirSync(SHOTS, { recursive: true });
  const shot = join(SHOTS, 'dashboard.png');
  await page.screenshot({ path: shot, fullPage: true });
  t.ok(statSync(shot).size > 10_000, `screenshot at ${shot}`);

  // Operators only: a client outside admin.allow (here: a forwarded public address) gets 403.
  const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'X-Forwarded-For: 8.8.8.8', `${base}/_mirrorgate/`]);
  t.equal(stdout, '403');
});
