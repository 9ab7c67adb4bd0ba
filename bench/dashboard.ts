// node dist/bench/dashboard.js [--mirrors 500] [--days 400] [--files 2000] [--out FILE]
// The operator's dashboard at scale: a database holding `days` of hourly counters for `mirrors` mirrors
// and daily roll-ups (plus 48 hours of minute rows, per-file and per-country download statistics), and a server on it.
// Measures what one dashboard load costs: gathering the data (SQL), drawing the page, the page's size,
// and GET /_mirrorgate/ end to end (the data cache is bypassed: every load is measured cold).
import { parseArgs } from 'node:util';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PACKAGE_ROOT } from '../src/paths.js';
import { openDb, statement } from '../src/db/open.js';
import { buildApp } from '../src/app.js';
import { dashboardData } from '../src/dashboard/data.js';
import { dashboardPage } from '../src/dashboard/page.js';
import { mirrorsFor } from './lib/fixtures.js';

const { values: args } = parseArgs({
  options: {
    mirrors: { type: 'string', default: '500' }, days: { type: 'string', default: '400' }, files: { type: 'string', default: '2000' },
    out: { type: 'string', default: join(PACKAGE_ROOT, 'bench/results/dashboard.json') }, work: { type: 'string', default: join(PACKAGE_ROOT, 'bench/.work') },
  },
});
const MIRRORS = Number(args.mirrors);
const DAYS = Number(args.days);
const FILES = Number(args.files);
const HOUR = 3_600_000;

async function main(): Promise<void> {
  const dir = join(args.work, `dashboard-${MIRRORS}-${DAYS}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'repository'), { recursive: true });
  const dbPath = join(dir, 'mirrorgate.db');
  const configPath = join(dir, 'mirrors.json');
  const names = Array.from({ length: MIRRORS }, (_, i) => `https://m${i}.example.org/`);
  writeFileSync(configPath, JSON.stringify({ repository: './repository', probe: { enabled: false }, mirrors: mirrorsFor(names) }));

  const seeded = performance.now();
  const rows = seed(dbPath, (mirrorsFor(names) as { name: string }[]).map((m) => m.name));
  const seedSeconds = (performance.now() - seeded) / 1000;
  console.log(`seeded ${rows.toLocaleString()} rows (${MIRRORS} mirrors, ${DAYS} days) in ${seedSeconds.toFixed(1)} s`);

  const app = await buildApp({ configPath, dbPath, watchConfig: false });
  const runtime = app.mirrorgate;
  const time = (work: () => void, n = 5) => {
    const ms: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      work();
      ms.push(performance.now() - t0);
    }
    return ms.sort((a, b) => a - b)[Math.floor(n / 2)] as number;
  };
  let data = dashboardData(runtime, Date.now());
  const dataMs = time(() => { data = dashboardData(runtime, Date.now()); });
  let html = '';
  const pageMs = time(() => { html = dashboardPage(data); });
  const httpMs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    // A request with a clock past the cache: the data is gathered afresh for each.
    const answer = await app.inject({ url: '/_mirrorgate/', remoteAddress: '127.0.0.1' });
    if (answer.statusCode !== 200) throw new Error(`dashboard answered ${answer.statusCode}`);
    httpMs.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 2100));
  }
  httpMs.sort((a, b) => a - b);
  await app.close();
  const result = {
    date: new Date().toISOString(), node: process.version, mirrors: MIRRORS, days: DAYS, files: FILES, rows,
    dataMs: round(dataMs), pageMs: round(pageMs), httpMedianMs: round(httpMs[2] as number), pageBytes: Buffer.byteLength(html),
  };
  console.log(`dashboard: data ${result.dataMs} ms, page ${result.pageMs} ms, GET /_mirrorgate/ ${result.httpMedianMs} ms (median of 5, cold), ${(result.pageBytes / 1024).toFixed(0)} KiB`);
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(result, null, 2)}\n`);
  if (process.env.KEEP_DASHBOARD_DB === undefined) rmSync(dir, { recursive: true, force: true });
}

/** Hourly rows for every mirror over DAYS, minute rows over 48 h, and download statistics. */
function seed(dbPath: string, mirrors: string[]): number {
  const { db } = openDb(dbPath);
  const now = Date.now();
  const hourNow = Math.floor(now / HOUR);
  const dayNow = Math.floor(now / (24 * HOUR));
  let rows = 0;
  const hours = statement(db, 'INSERT INTO counter_hours (hour, target, requests, bytes) VALUES (?, ?, ?, ?)');
  const days = statement(db, 'INSERT INTO counter_days (day, target, requests, bytes) VALUES (?, ?, ?, ?)');
  const minutes = statement(db, 'INSERT INTO counter_minutes (minute, target, requests, bytes) VALUES (?, ?, ?, ?)');
  const fileDays = statement(db, 'INSERT INTO file_days (day, path, downloads, bytes) VALUES (?, ?, ?, ?)');
  const fileHours = statement(db, 'INSERT INTO file_hours (hour, path, downloads, bytes) VALUES (?, ?, ?, ?)');
  const countries = statement(db, 'INSERT INTO country_days (day, country, downloads, bytes) VALUES (?, ?, ?, ?)');
  const targets = [...mirrors, '_local', '_fallback'];
  db.transaction(() => {
    for (let h = hourNow - DAYS * 24; h <= hourNow; h++) {
      for (let i = 0; i < targets.length; i++) hours.run(h, targets[i], 10 + ((h + i) % 50), (10 + ((h + i) % 50)) * 1e8);
    }
    rows += (DAYS * 24 + 1) * targets.length;
    for (let d = dayNow - DAYS; d <= dayNow; d++) for (let i = 0; i < targets.length; i++) days.run(d, targets[i], 24 * 35, 24 * 35 * 1e8);
    rows += (DAYS + 1) * targets.length;
    for (let m = Math.floor(now / 60_000) - 48 * 60; m <= Math.floor(now / 60_000); m++) {
      for (let i = 0; i < targets.length; i++) minutes.run(m, targets[i], 1, 1e8);
    }
    rows += (48 * 60 + 1) * targets.length;
    for (let d = dayNow - DAYS; d <= dayNow; d++) {
      for (let f = 0; f < FILES; f++) fileDays.run(d, `pool/f${f}.deb`, 1 + ((d + f) % 30), 1e7);
      for (let c = 0; c < 200; c++) countries.run(d, `C${c}`, 1 + c, 1e9);
    }
    rows += (DAYS + 1) * (FILES + 200);
    for (let h = hourNow - 48; h <= hourNow; h++) for (let f = 0; f < FILES; f++) fileHours.run(h, `pool/f${f}.deb`, 1, 1e7);
    rows += 49 * FILES;
  })();
  db.close();
  return rows;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

await main();
