// The database file deleted or replaced under a running server: noticed, logged, opened anew and
// migrated; the counts made from then on land in the new file, and the catalog is written there too.
import t from 'tap';
import { existsSync, rmSync, renameSync } from 'node:fs';
import Database from 'better-sqlite3';
import { build, waitFor, waitForAsync } from '../helper.js';
import { openDb, statement } from '../../src/db/open.js';
import type { Log } from '../../src/log.js';

function capturingLog(lines: string[]): Log {
  const log = {
    child: () => log,
    fatal: (_o: object, m?: string) => lines.push(`fatal ${m ?? ''}`),
    error: (_o: object, m?: string) => lines.push(`error ${m ?? ''}`),
    warn: (_o: object, m?: string) => lines.push(`warn ${m ?? ''}`),
    info: () => undefined,
    debug: () => undefined,
    trace: () => undefined,
  };
  return log as unknown as Log;
}

/** Requests counted in the file at `path` now, read by a separate connection. */
function countedIn(path: string): number {
  if (!existsSync(path)) return -1;
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const row = statement(db, 'SELECT COALESCE(SUM(requests), 0) AS n FROM counter_minutes').get() as { n: number };
    return row.n;
  } catch {
    return -1;
  } finally {
    db.close();
  }
}

for (const how of ['deleted', 'replaced'] as const) {
  t.test(`the database ${how} under the server`, async (t) => {
    const lines: string[] = [];
    const { app, fixture } = await build(t, { log: capturingLog(lines), config: { counters: { flushIntervalMs: 100 }, rateLimit: { enabled: false } } });
    for (let i = 0; i < 5; i++) await app.inject({ url: '/releases/1.0/big.iso' });
    t.ok(await waitFor(() => countedIn(fixture.dbPath) === 5, 10_000), 'the first 5 requests are in the first file');
    if (how === 'deleted') {
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${fixture.dbPath}${suffix}`, { force: true });
    } else {
      // Another database moved over it, as a restore from a backup would.
      const other = `${fixture.dbPath}.other`;
      openDb(other).db.close();
      renameSync(other, fixture.dbPath);
      rmSync(`${fixture.dbPath}-wal`, { force: true });
      rmSync(`${fixture.dbPath}-shm`, { force: true });
    }
    t.ok(await waitFor(() => app.mirrorgate.dbReopens === 1, 10_000), 'reopened');
    t.ok(lines.some((l) => l.startsWith(`error the database file was ${how}`)), 'and it said so');
    for (let i = 0; i < 3; i++) await app.inject({ url: '/releases/1.0/big.iso' });
    // Deleted: the 5 counted before move over from the unlinked file. Replaced: the file put there is kept as it is.
    const expected = how === 'deleted' ? 8 : 3;
    t.ok(await waitFor(() => countedIn(fixture.dbPath) === expected, 10_000), `${expected} requests in the new file (${countedIn(fixture.dbPath)})`);
    const files = new Database(fixture.dbPath, { readonly: true });
    t.equal((statement(files, 'SELECT COUNT(*) AS n FROM files').get() as { n: number }).n, 5, 'the catalog was written to the new file');
    files.close();
    t.equal(app.mirrorgate.catalog.size, 5, 'and the server still knows every file');
    t.ok(await waitForAsync(async () => (await app.inject({ url: '/README.txt' })).statusCode === 200), 'and serves');
  });
}
