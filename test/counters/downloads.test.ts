// Download statistics: N downloads of known files from known countries are exactly N in the right rows
// of file_hours, file_days and country_days, across a restart; HEADs and 304s are not downloads; and
// `mirrorgate stats --files/--countries` reads them back.
import t from 'tap';
import { openDb, statement } from '../../src/db/open.js';
import { HourlyTallies } from '../../src/counters/downloads.js';
import { main } from '../../src/cli/main.js';
import { build, makeFixture } from '../helper.js';

const rows = (dbPath: string, sql: string) => {
  const { db } = openDb(dbPath);
  const out = statement(db, sql).all();
  db.close();
  return out;
};

async function cli(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (s) => { stdout += s; }, stderr: (s) => { stderr += s; }, env: {} });
  return { code, stdout, stderr };
}

const FROM = { GB: '81.2.69.142', US: '8.8.8.8', DE: '5.9.0.1', JP: '133.242.0.1' } as const;

t.test('N downloads from known countries are N in the right rows, across a restart', async (t) => {
  const fixture = makeFixture(t, { config: { trustProxy: ['127.0.0.1'], smallFileBytes: 65536, rateLimit: { enabled: false } } });
  const plan: [string, keyof typeof FROM, number][] = [
    ['/releases/1.0/big.iso', 'GB', 7], ['/releases/1.0/big.iso', 'US', 5], ['/README.txt', 'DE', 3], ['/pool/ü/ünïcode.deb', 'JP', 2],
  ];
  const send = async (app: Awaited<ReturnType<typeof build>>['app'], half: 0 | 1) => {
    for (const [url, country, n] of plan) {
      const count = half === 0 ? Math.ceil(n / 2) : Math.floor(n / 2);
      for (let i = 0; i < count; i++) {
        const r = await app.inject({ url: encodeURI(url), headers: { 'x-forwarded-for': FROM[country] } });
        t.ok(r.statusCode === 302 || r.statusCode === 200, `${url} answered ${r.statusCode}`);
      }
      // Neither a HEAD nor a 304 is a download.
      await app.inject({ method: 'HEAD', url: encodeURI(url), headers: { 'x-forwarded-for': FROM[country] } });
    }
    const local = await app.inject({ url: '/README.txt' });
    await app.inject({ url: '/README.txt', headers: { 'if-none-match': String(local.headers.etag) } });
  };
  const first = await build(t, { fixture });
  await send(first.app, 0);
  await first.app.close(); // closing flushes
  const second = await build(t, { fixture });
  await send(second.app, 1);
  second.app.mirrorgate.flush();

  // README.txt: 3 from DE plus one plain GET per run from 127.0.0.1 (no country); the 304s are not counted.
  const expectFiles = [
    { path: 'README.txt', downloads: 5, bytes: 500 },
    { path: 'pool/ü/ünïcode.deb', downloads: 2, bytes: 12000 },
    { path: 'releases/1.0/big.iso', downloads: 12, bytes: 12 * 10 * 1024 * 1024 },
  ];
  t.same(rows(fixture.dbPath, 'SELECT path, SUM(downloads) AS downloads, SUM(bytes) AS bytes FROM file_hours GROUP BY path ORDER BY path'), expectFiles);
  t.same(rows(fixture.dbPath, 'SELECT path, SUM(downloads) AS downloads, SUM(bytes) AS bytes FROM file_days GROUP BY path ORDER BY path'), expectFiles);
  t.same(rows(fixture.dbPath, 'SELECT country, SUM(downloads) AS downloads FROM country_days GROUP BY country ORDER BY country'), [
    { country: '--', downloads: 2 }, { country: 'DE', downloads: 3 }, { country: 'GB', downloads: 7 }, { country: 'JP', downloads: 2 }, { country: 'US', downloads: 5 },
  ]);

  const flags = ['--config', fixture.configPath, '--db', fixture.dbPath];
  const files = await cli(['stats', '--files', '--top', '2', ...flags]);
  t.equal(files.code, 0, files.stderr);
  t.match(files.stdout, /^path\s+downloads\s+bytes\s+share\nreleases\/1\.0\/big\.iso\s+12\s+120\.0 MiB\s+63\.2%\nREADME\.txt\s+5\s+500 B\s+26\.3%\ntotal \(3 files\)\s+19/);
  const json = JSON.parse((await cli(['stats', '--countries', '--json', '--since', '2d', ...flags])).stdout);
  t.match(json, { downloads: 19, countries: [{ country: 'GB', downloads: 7 }, { country: 'US', downloads: 5 }, { country: 'DE', downloads: 3 }] });
  const under = JSON.parse((await cli(['stats', '--files', '--prefix', 'pool/', '--json', ...flags])).stdout);
  t.match(under, { downloads: 2, files: [{ path: 'pool/ü/ünïcode.deb', downloads: 2, bytes: 12000, share: 1 }] }, 'shares of the downloads under the prefix');
  t.equal(under.files.length, 1);
  t.match(await cli(['stats', '--files', '--countries', ...flags]), { code: 2, stderr: /choose one/ });
  t.match(await cli(['stats', '--top', '0', ...flags]), { code: 2, stderr: /--top: "0"/ });
});

t.test('tallies: cells are reused within the hour, a new hour starts afresh, and a failed write is retried', async (t) => {
  const tallies = new HourlyTallies();
  tallies.add('a', 10, 100);
  tallies.add('a', 5, 100);
  tallies.add('b', 1, 100);
  t.same(tallies.drain(), [{ hour: 100, key: 'a', downloads: 2, bytes: 15 }, { hour: 100, key: 'b', downloads: 1, bytes: 1 }]);
  t.same(tallies.drain(), [], 'nothing new, nothing drained');
  tallies.add('a', 1, 100);
  tallies.add('a', 2, 101);
  const drained = tallies.drain();
  t.same(drained, [{ hour: 100, key: 'a', downloads: 1, bytes: 1 }, { hour: 101, key: 'a', downloads: 1, bytes: 2 }]);
  tallies.restore(drained);
  t.equal(tallies.pending, 2);
  t.same(tallies.drain(), drained, 'restored tallies come back on the next drain');
});
