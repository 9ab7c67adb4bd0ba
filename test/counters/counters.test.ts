import t from 'tap';
import { openDb, statement } from '../../src/db/open.js';
import { Counters } from '../../src/counters/counters.js';
import { CounterStore } from '../../src/counters/store.js';
import { build, makeFixture } from '../helper.js';

const sum = (fixture: { dbPath: string }, table = 'counter_minutes') => {
  const { db } = openDb(fixture.dbPath);
  const rows = statement(db, `SELECT target, SUM(requests) AS requests, SUM(bytes) AS bytes FROM ${table} GROUP BY target ORDER BY target`).all();
  db.close();
  return rows as { target: string; requests: number; bytes: number }[];
};

t.test('N redirects are exactly N counted after a flush, and survive a restart', async (t) => {
  const fixture = makeFixture(t);
  const first = await build(t, { fixture });
  const n = 137;
  for (let i = 0; i < n; i++) await first.app.inject({ url: '/releases/1.0/big.iso' });
  await first.app.inject({ url: '/README.txt' });
  first.app.mirrorgate.flush();
  const counted = sum(fixture);
  t.equal(counted.filter((r) => r.target !== '_local').reduce((s, r) => s + r.requests, 0), n);
  t.equal(counted.filter((r) => r.target !== '_local').reduce((s, r) => s + r.bytes, 0), n * 10 * 1024 * 1024);
  t.match(counted.find((r) => r.target === '_local'), { requests: 1, bytes: 100 });
  t.same(sum(fixture, 'counter_hours'), counted, 'hourly roll-ups agree');
  await first.app.close();

  const second = await build(t, { fixture });
  await second.app.inject({ url: '/releases/1.0/big.iso' });
  await second.app.close();
  t.equal(sum(fixture).filter((r) => r.target !== '_local').reduce((s, r) => s + r.requests, 0), n + 1, 'close flushes; earlier counts kept');
});

t.test('HEAD counts a request but no bytes; a Range counts only its bytes', async (t) => {
  const fixture = makeFixture(t);
  const { app } = await build(t, { fixture });
  await app.inject({ method: 'HEAD', url: '/releases/1.0/big.iso' });
  await app.inject({ url: '/releases/1.0/big.iso', headers: { range: 'bytes=0-999' } });
  app.mirrorgate.flush();
  const rows = sum(fixture);
  t.equal(rows.reduce((s, r) => s + r.requests, 0), 2);
  t.equal(rows.reduce((s, r) => s + r.bytes, 0), 1000);
});

t.test('counts are kept in memory when the database refuses a write, and written later', async (t) => {
  const fixture = makeFixture(t);
  const { db } = openDb(fixture.dbPath);
  t.teardown(() => db.close());
  const counters = new Counters();
  const store = new CounterStore(db);
  counters.add('m', 10);
  counters.add('m', 5);
  const tallies = counters.drain();
  db.exec('ALTER TABLE counter_minutes RENAME TO broken');
  t.throws(() => store.write(tallies));
  counters.restore(tallies);
  db.exec('ALTER TABLE broken RENAME TO counter_minutes');
  counters.add('m', 1);
  store.write(counters.drain());
  t.match(statement(db, 'SELECT SUM(requests) AS r, SUM(bytes) AS b FROM counter_minutes').get(), { r: 3, b: 16 });
});

t.test('minute rows roll over per minute, and retention prunes old rows', async (t) => {
  const fixture = makeFixture(t);
  const { db } = openDb(fixture.dbPath);
  t.teardown(() => db.close());
  let now = Date.UTC(2026, 0, 1, 12, 0, 30);
  const counters = new Counters(() => now);
  const store = new CounterStore(db);
  counters.add('m', 1);
  now += 60_000;
  counters.add('m', 2);
  store.write(counters.drain());
  t.equal((statement(db, 'SELECT COUNT(*) AS n FROM counter_minutes').get() as { n: number }).n, 2);
  const retention = { minuteRetentionHours: 48, hourRetentionDays: 400 };
  t.equal(store.prune(retention, now + 47 * 3_600_000), 0);
  t.equal(store.prune(retention, now + 49 * 3_600_000), 2, 'minute rows go after 48 h');
  t.equal(store.totalsSince(now - 3_600_000, now + 49 * 3_600_000, retention)[0]?.requests, 2, 'hourly rows answer longer spans');
  t.equal(store.prune(retention, now + 401 * 86_400_000), 2, 'hour and day rows go after 400 days');
});
