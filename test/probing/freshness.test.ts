// The freshness rules as a table, checked end to end: a real mirror on 127.0.0.1 serving, for each case,
// a copy of the same or another size, with the same, a newer or an older Last-Modified, the same or
// other bytes, of a volatile, a small or a large file. The prober fetches and judges each copy.
import t from 'tap';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMirrorServer } from '../../src/demo/mirror-server.js';
import { fileVerdict, judgeCopy, planCheck, type Evidence, type FreshnessRules } from '../../src/probing/freshness.js';
import { build, makeFixture, waitFor, writeConfig } from '../helper.js';

type Size = 'same size' | 'other size';
type Mtime = 'same mtime' | 'newer mtime' | 'older mtime';
type Content = 'same bytes' | 'other bytes';
type Kind = 'volatile' | 'small' | 'large';

const SIZES = { volatile: 9000, small: 9000, large: 65536 } as const;

/** What each case must come to, and why. */
function expected(size: Size, mtime: Mtime, content: Content, kind: Kind): { status: Evidence['status']; method: Evidence['method'] } {
  if (size === 'other size') return { status: 'stale', method: 'head' };
  const whole = kind !== 'large';
  if (content === 'other bytes') return { status: 'stale', method: whole ? 'sha256' : 'samples' };
  // Same bytes: a whole-copy hash proves it whatever the date says; samples do not, so an older copy is stale.
  // Volatile files must also carry our date: clients revalidate them with If-Modified-Since.
  if (kind === 'volatile') return { status: mtime === 'same mtime' ? 'fresh' : 'stale', method: 'sha256' };
  if (whole) return { status: 'fresh', method: 'sha256' };
  return { status: mtime === 'older mtime' ? 'stale' : 'fresh', method: 'samples' };
}

t.test('same or other size × same, newer or older mtime × same or other bytes × volatile, small or large', async (t) => {
  const cases: { path: string; size: Size; mtime: Mtime; content: Content; kind: Kind }[] = [];
  const files: Record<string, number> = { 'README.txt': 100, 'probe.bin': 5000 };
  for (const size of ['same size', 'other size'] as const) {
    for (const mtime of ['same mtime', 'newer mtime', 'older mtime'] as const) {
      for (const content of ['same bytes', 'other bytes'] as const) {
        for (const kind of ['volatile', 'small', 'large'] as const) {
          const name = `${size}-${mtime}-${content}`.replaceAll(' ', '_');
          const path = kind === 'volatile' ? `${name}/Packages` : `${name}/${kind}.bin`;
          cases.push({ path, size, mtime, content, kind });
          files[path] = SIZES[kind];
        }
      }
    }
  }
  const fixture = makeFixture(t, { files });
  // The repository's bytes: a pattern that differs at every offset from the mirror's "other bytes".
  const when = new Date('2026-01-01T00:00:00Z');
  for (const c of cases) {
    writeFileSync(join(fixture.repository, c.path), ours(SIZES[c.kind]));
    utimesSync(join(fixture.repository, c.path), when, when);
  }
  const mirror = await startMirrorServer(fixture.repository);
  t.teardown(() => mirror.close());
  for (const c of cases) {
    const n = SIZES[c.kind] + (c.size === 'other size' ? 10 : 0);
    mirror.content.set(c.path, c.content === 'same bytes' ? ours(n) : Buffer.alloc(n, 0xee));
    const shift = c.mtime === 'newer mtime' ? 3_600_000 : c.mtime === 'older mtime' ? -3_600_000 : 0;
    mirror.lastModified.set(c.path, new Date(when.getTime() + shift));
  }
  writeConfig(fixture.configPath, {
    mirrors: [{ name: 'm', url: mirror.url, probePath: 'probe.bin' }],
    probe: { enabled: true, intervalSeconds: 1, timeoutMs: 2000, capacityEveryRounds: 0 },
    freshness: { contentCheckBytes: 16384, sampleBytes: 1024, samples: 2, firstRequestWaitMs: 0, queueSize: 1000, concurrency: 16 },
    rateLimit: { enabled: false },
  });
  const { app } = await build(t, { fixture });
  const states = app.mirrorgate.states.get('m');
  t.ok(await waitFor(() => {
    for (const c of cases) if (!states.evidence.has(c.path)) void app.inject({ url: `/${c.path}` });
    return cases.every((c) => states.evidence.has(c.path));
  }, 30_000, 100), 'every copy was checked');
  for (const c of cases) {
    const want = expected(c.size, c.mtime, c.content, c.kind);
    t.match(states.evidence.get(c.path), want, `${c.kind}, ${c.size}, ${c.mtime}, ${c.content}: ${want.status} by ${want.method}`);
    const res = await app.inject({ url: `/${c.path}` });
    const to = res.headers['x-mirrorgate-mirror'];
    t.equal(to === 'm', want.status === 'fresh', `${c.path}: redirected to the mirror only when fresh (got ${String(to)})`);
  }
});

function ours(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + 3) % 251;
  return b;
}

const RULES: FreshnessRules = {
  youngFileSeconds: 3600, youngRecheckSeconds: 300, oldRecheckSeconds: 21600, volatileMaxAgeSeconds: 60,
  contentCheckBytes: 1 << 20, sampleBytes: 4096, samples: 2,
};

t.test('evidence counts only for the copy it was taken against', async (t) => {
  const file = { path: 'a.iso', size: 5 << 20, mtimeMs: 1_000_000, ctimeMs: 2_000_000 };
  const fresh: Evidence = { status: 'fresh', size: file.size, mtimeMs: file.mtimeMs, ctimeMs: file.ctimeMs, checkedAt: 3_000_000, method: 'samples', detail: '' };
  t.match(fileVerdict(fresh, undefined, file, false, RULES, 3_000_000), { ok: true });
  t.match(fileVerdict(fresh, undefined, { ...file, ctimeMs: file.ctimeMs + 1 }, false, RULES, 3_000_000), { ok: false, reason: 'unverified' },
    'rebuilt with the same size and mtime: a new ctime, no evidence');
  t.match(fileVerdict(fresh, undefined, file, true, RULES, 3_000_000 + 61_000), { ok: false, reason: 'unverified' }, 'volatile: only a recent check counts');
});

t.test('volatile files: a sync stamp never vouches, and evidence expires after volatileMaxAgeSeconds', async (t) => {
  const file = { path: 'dists/stable/InRelease', size: 9000, mtimeMs: 1_000_000, ctimeMs: 1_000_000 };
  const stamp = 2_000_000; // a sync after the file's mtime
  t.match(fileVerdict(undefined, stamp, file, false, RULES, 3_000_000), { ok: true }, 'a stable file: the stamp vouches');
  t.match(fileVerdict(undefined, stamp, file, true, RULES, 3_000_000), { ok: false, reason: 'unverified' }, 'volatile: the stamp does not');
  const checked: Evidence = { status: 'fresh', size: 9000, mtimeMs: 1_000_000, ctimeMs: 1_000_000, checkedAt: 3_000_000, method: 'sha256', detail: '' };
  t.match(fileVerdict(checked, stamp, file, true, RULES, 3_000_000 + 59_000), { ok: true }, 'checked 59 s ago of 60');
  t.match(fileVerdict(checked, stamp, file, true, RULES, 3_000_000 + 60_000), { ok: false, reason: 'unverified' }, 'checked 60 s ago: too old');
  t.match(fileVerdict(checked, stamp, file, true, { ...RULES, volatileMaxAgeSeconds: 600 }, 3_000_000 + 300_000), { ok: true }, 'the setting decides');
});

t.test('what a check fetches: the whole copy for small and volatile files, head, tail and random ranges for large ones', async (t) => {
  t.same(planCheck({ size: 1 << 20, mtimeMs: 0, ctimeMs: 0 }, false, RULES, () => 0.5), { method: 'sha256' });
  t.same(planCheck({ size: 50 << 20, mtimeMs: 0, ctimeMs: 0 }, true, RULES, () => 0.5), { method: 'sha256' });
  const plan = planCheck({ size: 10_000_000, mtimeMs: 0, ctimeMs: 0 }, false, RULES, () => 0.5);
  t.same(plan, { method: 'samples', ranges: [{ offset: 0, length: 4096 }, { offset: 10_000_000 - 4096, length: 4096 }, { offset: 4_997_952, length: 4096 }, { offset: 4_997_952, length: 4096 }] });
  t.match(judgeCopy({ ok: true, status: 206, size: 10_000_000, lastModified: undefined, content: { method: 'samples', ranges: 4, mismatchAt: 4_998_000 } },
    { size: 10_000_000, mtimeMs: 0, ctimeMs: 0 }, 1), { status: 'stale', detail: 'bytes differ at offset 4998000' });
  t.match(judgeCopy({ ok: true, status: 200, size: 10_000_000, lastModified: undefined, content: { method: 'none', why: 'the mirror ignores Range requests' } },
    { size: 10_000_000, mtimeMs: 0, ctimeMs: 0 }, 1), { status: 'stale', detail: /ignores Range/ }, 'never fresh on metadata alone');
  t.equal(judgeCopy({ ok: true, status: 503, size: undefined, lastModified: undefined }, { size: 1, mtimeMs: 0, ctimeMs: 0 }, 1), undefined, 'a 5xx says nothing');
});
