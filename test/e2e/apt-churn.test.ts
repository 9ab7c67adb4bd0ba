// Correct bytes under churn, with real apt: a signed flat Debian repository in the repository directory,
// served through mirrorgate with three loopback mirrors that sync late (one keeps mtimes, one does not,
// one copies the metadata before the packages). While the master keeps changing (new .debs, new versions,
// a .deb rebuilt with the same size and mtime, Packages, Release and InRelease replaced), 30 rounds of
// `apt-get update` plus a download of every package, in an isolated apt configuration, must not fail once.
import t from 'tap';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync, existsSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { startMirrorServer, type MirrorServer } from '../../src/demo/mirror-server.js';
import { build, makeFixture, waitFor, writeConfig } from '../helper.js';

const run = promisify(execFile);
const ROUNDS = 30;
const ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', SOURCE_DATE_EPOCH: '1700000000' };

interface Package { name: string; version: number; seed: number; file: string }

t.test('30 rounds of apt-get update and downloads while the master changes and mirrors sync late', async (t) => {
  const fixture = makeFixture(t, { files: { 'probe.txt': 5000 } });
  const master = fixture.repository;
  const work = mkdtempSync(join(tmpdir(), 'mirrorgate-apt-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));

  // A signing key for the repository, and apt's own world: sources, lists, cache, status, all in `work`.
  const gnupg = join(work, 'gnupg');
  mkdirSync(gnupg, { mode: 0o700 });
  await run('gpg', ['--batch', '--homedir', gnupg, '--passphrase', '', '--quick-gen-key', 'mirrorgate churn test <churn@localhost>', 'ed25519', 'sign', 'never'], { env: ENV });
  writeFileSync(join(work, 'key.gpg'), (await run('gpg', ['--homedir', gnupg, '--export'], { env: ENV, encoding: 'buffer' })).stdout);

  const packages = new Map<string, Package>();
  let nextSeed = 1;
  const build_ = join(work, 'build');
  async function buildDeb(p: Package): Promise<void> {
    const root = join(build_, `${p.name}-${p.version}-${p.seed}`);
    mkdirSync(join(root, 'DEBIAN'), { recursive: true });
    mkdirSync(join(root, 'usr/share', p.name), { recursive: true });
    writeFileSync(join(root, 'DEBIAN/control'),
      `Package: ${p.name}\nVersion: ${p.version}.0\nArchitecture: all\nMaintainer: churn <churn@localhost>\nDescription: churn test package\n`);
    writeFileSync(join(root, 'usr/share', p.name, 'data'), bytes(12_000 + (p.name.length % 7) * 1000, p.seed));
    const out = join(work, `${p.name}.deb.build`);
    await run('dpkg-deb', ['-Znone', '--root-owner-group', '-b', root, out], { env: ENV });
    rmSync(root, { recursive: true });
    // Like the archive's tools: write beside the file, then rename over it.
    mkdirSync(join(master, 'pool'), { recursive: true });
    const target = join(master, p.file);
    const temp = join(master, 'pool', `.${p.name}.tmp`);
    copyFileSync(out, temp);
    rmSync(out);
    if (existsSync(target)) {
      const old = statSync(target);
      utimesSync(temp, old.atimeMs / 1000, old.mtimeMs / 1000); // a rebuild keeps the mtime (SOURCE_DATE_EPOCH), the nastiest case
    }
    renameSync(temp, target);
  }
  const fileOf = (name: string, version: number) => `pool/${name}_${version}.0_all.deb`;

  async function publish(): Promise<void> {
    const stanzas: string[] = [];
    for (const p of [...packages.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      const deb = readFileSync(join(master, p.file));
      stanzas.push(`Package: ${p.name}\nVersion: ${p.version}.0\nArchitecture: all\nMaintainer: churn <churn@localhost>\n`
        + `Filename: ${p.file}\nSize: ${deb.length}\nSHA256: ${sha256(deb)}\nDescription: churn test package\n`);
    }
    const index = Buffer.from(`${stanzas.join('\n')}\n`);
    const release = Buffer.from(`Origin: mirrorgate-churn\nLabel: churn\nSuite: churn\nCodename: churn\nDate: ${new Date().toUTCString()}\n`
      + `Architectures: all\nSHA256:\n ${sha256(index)} ${index.length} Packages\n`);
    const put = async (name: string, content: Buffer) => {
      writeFileSync(join(master, `.${name}.tmp`), content);
      renameSync(join(master, `.${name}.tmp`), join(master, name));
    };
    await put('Packages', index);
    await put('Release', release);
    writeFileSync(join(work, 'Release'), release);
    const sign = async (args: string[]) => (await run('gpg', ['--batch', '--homedir', gnupg, '--yes', ...args, '-o', '-', join(work, 'Release')],
      { env: ENV, encoding: 'buffer' })).stdout;
    await put('Release.gpg', await sign(['--detach-sign', '--armor']));
    await put('InRelease', await sign(['--clearsign']));
  }

  async function addPackage(): Promise<Package> {
    const name = `churn${packages.size + 1}`;
    const p = { name, version: 1, seed: nextSeed++, file: fileOf(name, 1) };
    await buildDeb(p);
    return p;
  }

  for (let i = 0; i < 6; i++) {
    const p = await addPackage();
    packages.set(p.name, p);
  }
  await publish();

  // Three mirrors, each its own directory, synced by copying from the master with a lag.
  const mirrors: { server: MirrorServer; dir: string; keepMtime: boolean; metadataFirst: boolean }[] = [];
  for (let i = 0; i < 3; i++) {
    const dir = join(work, `mirror${i}`);
    mkdirSync(dir);
    const m = { server: await startMirrorServer(dir), dir, keepMtime: i !== 1, metadataFirst: i === 2 };
    mirrors.push(m);
    syncOnce(master, m.dir, m.keepMtime, m.metadataFirst);
  }
  t.teardown(() => Promise.all(mirrors.map((m) => m.server.close())));
  let stopping = false;
  const syncing = mirrors.map(async (m, i) => {
    while (!stopping) {
      await sleep(200 + ((i * 397) % 700) + Math.floor(Math.random() * 800));
      if (!stopping) syncOnce(master, m.dir, m.keepMtime, m.metadataFirst);
    }
  });
  t.teardown(async () => {
    stopping = true;
    await Promise.all(syncing);
  });

  writeConfig(fixture.configPath, {
    mirrors: mirrors.map((m, i) => ({ name: `m${i}`, url: m.server.url, probePath: 'probe.txt' })),
    probe: { enabled: true, intervalSeconds: 1, timeoutMs: 5000, capacityEveryRounds: 0 },
    freshness: { youngRecheckSeconds: 2, firstRequestWaitMs: 2000 },
    rateLimit: { enabled: false },
  });
  const { app } = await build(t, { fixture });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;

  const apt = aptWorld(work, port);
  const failures: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    // The master changes between rounds, as an archive publishes: pool first, then the indexes.
    const p = await addPackage();
    packages.set(p.name, p);
    if (round % 3 === 0) {
      const old = packages.get('churn2') as Package;
      const next = { ...old, version: old.version + 1, seed: nextSeed++, file: fileOf(old.name, old.version + 1) };
      await buildDeb(next);
      packages.set(next.name, next);
    }
    if (round % 4 === 0) {
      const victim = packages.get('churn1') as Package;
      const rebuilt = { ...victim, seed: nextSeed++ };
      const before = statSync(join(master, victim.file));
      await buildDeb(rebuilt); // same name, size and mtime; other bytes
      const after = statSync(join(master, victim.file));
      t.same([after.size, Math.trunc(after.mtimeMs)], [before.size, Math.trunc(before.mtimeMs)], `round ${round}: ${victim.file} rebuilt with the same size and mtime`);
      packages.set(rebuilt.name, rebuilt);
    }
    await publish();
    // What clients can rely on: once the archive is published and the catalog has seen it.
    t.ok(await waitFor(() => {
      const entry = app.mirrorgate.catalog.lookup('InRelease');
      return entry !== undefined && entry.ctimeMs === Math.trunc(statSync(join(master, 'InRelease')).ctimeMs);
    }, 10_000), `round ${round}: the catalog saw the publish`);
    await app.mirrorgate.watcher?.settled();

    // ...and keeps changing during the round: a new .deb lands in the pool before any index names it.
    const during = addPackage();
    const update = await apt.run(['update']);
    const expected = [...packages.values()];
    const download = await apt.run(['download', ...expected.map((x) => x.name)], apt.downloads);
    const late = await during;
    packages.set(late.name, late);
    for (const [what, r] of [['update', update], ['download', download]] as const) {
      if (r.code !== 0 || /^(E|W|Err):/m.test(r.output)) failures.push(`round ${round} apt-get ${what} (exit ${r.code}):\n${r.output}\n(update said: ${update.output})`);
    }
    for (const x of expected) {
      const found = readdirSync(apt.downloads).find((f) => f.startsWith(`${x.name}_`));
      if (found === undefined) failures.push(`round ${round}: ${x.name} not downloaded`);
      else if (sha256(readFileSync(join(apt.downloads, found))) !== sha256(readFileSync(join(master, x.file)))) failures.push(`round ${round}: ${found} has other bytes`);
    }
    rmSync(apt.downloads, { recursive: true, force: true });
    mkdirSync(apt.downloads);
  }
  t.same(failures, [], 'no failure of any kind in any round');
  const totals = app.mirrorgate.counters.totals;
  const toMirrors = ['m0', 'm1', 'm2'].reduce((sum, m) => sum + (totals.get(m)?.requests ?? 0), 0);
  t.ok(toMirrors > 0, `mirrors served part of it (${toMirrors} redirects, ${totals.get('_local')?.requests ?? 0} answered locally)`);
  const { stale, missing } = app.mirrorgate.prober.verdicts;
  t.ok(stale + missing > 0, `and late mirrors were caught without the current copy (${stale} stale, ${missing} missing verdicts)`);
});

/** Copies the master's files to a mirror directory: changed files via temp + rename, removed ones deleted. */
function syncOnce(master: string, mirror: string, keepMtime: boolean, metadataFirst: boolean): void {
  const files = list(master);
  const isMeta = (f: string) => !f.startsWith('pool/');
  files.sort((a, b) => (isMeta(a) === isMeta(b) ? 0 : isMeta(a) === metadataFirst ? -1 : 1));
  for (const f of files) {
    const from = join(master, f);
    const to = join(mirror, f);
    let content: Buffer;
    try {
      content = readFileSync(from);
    } catch {
      continue; // removed meanwhile
    }
    if (existsSync(to) && readFileSync(to).equals(content)) continue;
    mkdirSync(join(to, '..'), { recursive: true });
    const temp = join(mirror, `.sync-${process.pid}.tmp`);
    writeFileSync(temp, content);
    if (keepMtime) {
      const s = statSync(from, { throwIfNoEntry: false });
      if (s !== undefined) utimesSync(temp, s.atime, s.mtime);
    }
    renameSync(temp, to);
  }
  const wanted = new Set(files);
  for (const f of list(mirror)) if (!wanted.has(f)) rmSync(join(mirror, f), { force: true });
}

function list(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const path = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...list(root, path));
    else out.push(path);
  }
  return out;
}

function aptWorld(work: string, port: number) {
  const base = join(work, 'apt');
  for (const d of ['etc/sources.list.d', 'etc/preferences.d', 'etc/apt.conf.d', 'state/lists/partial', 'cache/archives/partial', 'downloads']) {
    mkdirSync(join(base, d), { recursive: true });
  }
  writeFileSync(join(base, 'status'), '');
  writeFileSync(join(base, 'apt.conf'), '');
  writeFileSync(join(base, 'etc/sources.list'), `deb [signed-by=${join(work, 'key.gpg')}] http://127.0.0.1:${port}/ ./\n`);
  const options = [
    `Dir::Etc=${join(base, 'etc')}`, `Dir::Etc::sourcelist=${join(base, 'etc/sources.list')}`, `Dir::Etc::sourceparts=${join(base, 'etc/sources.list.d')}`,
    `Dir::Etc::parts=${join(base, 'etc/apt.conf.d')}`, `Dir::Etc::preferencesparts=${join(base, 'etc/preferences.d')}`,
    `Dir::State=${join(base, 'state')}`, `Dir::State::status=${join(base, 'status')}`, `Dir::Cache=${join(base, 'cache')}`,
    'Debug::NoLocking=1', 'APT::Sandbox::User=root', 'Acquire::Languages=none', 'Acquire::Retries=0', 'Acquire::http::Proxy=DIRECT',
    'APT::Architecture=amd64', 'APT::Architectures::=amd64', 'Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false',
  ].flatMap((o) => ['-o', o]);
  const downloads = join(base, 'downloads');
  return {
    downloads,
    async run(args: string[], cwd = base): Promise<{ code: number; output: string }> {
      try {
        const r = await run('apt-get', [...options, '-o', 'Debug::Acquire::http=1', '-q', ...args], { cwd, env: { ...ENV, APT_CONFIG: join(base, 'apt.conf') }, timeout: 120_000 });
        return { code: 0, output: `${r.stdout}${r.stderr}` };
      } catch (err) {
        const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
        return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}${e.message}` };
      }
    },
  };
}

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1664525 + 1013904223) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
