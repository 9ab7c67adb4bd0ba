// What the bench relies on works. Nothing here is timed: the bench measures, the tests only check.
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { generateRepository } from '../../bench/lib/fixtures.js';
import { hasWrk } from '../../bench/lib/load.js';
import { openDb } from '../../src/db/open.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { tempDir } from '../helper.js';

const run = promisify(execFile);

const tools = ['autocannon', ...(await hasWrk() ? ['wrk'] : [])];

for (const tool of tools) t.test(`a smoke run of the harness (${tool}) starts, loads and stops its servers, and writes its results`, async (t) => {
  const dir = tempDir(t, 'bench');
  const out = join(dir, 'latest.json');
  const { stdout } = await run(process.execPath, [join(PACKAGE_ROOT, 'dist/bench/run.js'), '--quick', '--files', '300', '--seconds', '1',
    '--connections', '8', '--tool', tool, '--out', out, '--work', join(dir, 'work')], { timeout: 120_000, maxBuffer: 1 << 24 });
  t.match(stdout, /full pipeline \(300 files, 50 mirrors\) vs bare Fastify/);
  const result = JSON.parse(readFileSync(out, 'utf8'));
  t.match(result, {
    params: { files: 300, tool },
    results: { fullPipeline: { a: { requests: Number, errors: 0 }, b: { requests: Number, errors: 0 }, rpsRatio: Number } },
  });
  t.ok(result.results.fullPipeline.a.requests > 0, 'mirrorgate answered');
  t.ok(result.results.fullPipeline.b.requests > 0, 'bare Fastify answered');
  const { stdout: ps } = await run('ps', ['-eo', 'args']);
  t.notMatch(ps, new RegExp(`${dir.replace(/[/.]/g, '\\$&')}.*serve`), 'no server left running');
});

t.test('bench:profile profiles a short run and says where the CPU went', async (t) => {
  const dir = tempDir(t, 'profile');
  // Through env(1), without tap's process tracking (NODE_OPTIONS), which tap adds to every child it
  // spawns and which would slow the profiled server tenfold.
  const { stdout } = await run('env', ['-u', 'NODE_OPTIONS', '-u', 'NODE_V8_COVERAGE', process.execPath, join(PACKAGE_ROOT, 'dist/bench/profile.js'),
    '--files', '200', '--mirrors', '3', '--seconds', '1', '--connections', '8', '--work', dir], { timeout: 120_000, maxBuffer: 1 << 24 });
  t.match(stdout, /busy [\d.]+ µs per request \(\d+ requests/);
  t.match(stdout, /self time per request, by function/);
  t.match(stdout, /\nby file:\n/);
});

t.test('a generated catalog of 100,000 files loads from SQLite and answers lookups correctly', async (t) => {
  const dir = tempDir(t, 'catalog');
  const root = join(dir, 'repo');
  const paths = generateRepository(root, 100_000);
  const { db } = openDb(join(dir, 'catalog.db'));
  t.teardown(() => db.close());
  const report = await new Catalog(db).scan(root);
  t.equal(report.files, 100_001, 'every generated file and the README');
  const catalog = new Catalog(db);
  catalog.load();
  t.equal(catalog.size, 100_001);
  for (const i of [0, 1, 996, 997, 50_000, 99_999]) {
    const path = paths[i] as string;
    t.match(catalog.lookup(path), { path, size: 65536 + (i % 4096) * 4096 }, path);
  }
  t.equal(catalog.lookup('pool/main/none.deb'), undefined);
  t.equal(catalog.lookup(`${paths[5]}x`), undefined);
});
