// The first requests for large files no mirror is known to hold: on a cold start, many clients at once,
// over real HTTP. They wait for shared checks and are redirected; the repository sends none of the bytes.
import t from 'tap';
import type { AddressInfo } from 'node:net';
import { request } from 'node:http';
import { startMirrorServer, type MirrorServer } from '../../src/demo/mirror-server.js';
import { build, makeFixture, writeConfig } from '../helper.js';

const FILES = ['iso/one.iso', 'iso/two.iso', 'iso/three.iso', 'iso/four.iso', 'iso/five.iso'];

function get(port: number, path: string, client: string): Promise<{ status: number; mirror: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { 'x-forwarded-for': client } }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => { bytes += c.length; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, mirror: String(res.headers['x-mirrorgate-mirror']), bytes }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('cold start: 250 clients at once for 5 new large files are all redirected, after one shared check per mirror and file', async (t) => {
  const files: Record<string, number> = { 'README.txt': 100, 'probe.bin': 5000 };
  for (const f of FILES) files[f] = 20 * 1024 * 1024;
  const fixture = makeFixture(t, { files });
  const mirrors: MirrorServer[] = [];
  for (let i = 0; i < 3; i++) mirrors.push(await startMirrorServer(fixture.repository));
  t.teardown(() => Promise.all(mirrors.map((m) => m.close())));
  writeConfig(fixture.configPath, {
    mirrors: mirrors.map((m, i) => ({ name: `m${i}`, url: m.url, probePath: 'probe.bin' })),
    probe: { enabled: true, intervalSeconds: 5, timeoutMs: 10_000, capacityEveryRounds: 0 },
    // A busy test machine answers slower than a real mirror network: wait generously here.
    freshness: { firstRequestWaitMs: 10000 },
    rateLimit: { enabled: false },
  });
  const { app } = await build(t, { fixture });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;

  const answers = await Promise.all(Array.from({ length: 250 }, (_, i) => get(port, `/${FILES[i % FILES.length]}`, `10.0.${i}.1`)));
  t.same([...new Set(answers.map((a) => a.status))], [302], 'every first answer is a redirect');
  t.ok(answers.every((a) => /^m\d$/.test(a.mirror)), 'to a mirror');
  t.equal(answers.reduce((sum, a) => sum + a.bytes, 0), 0, 'no bytes of these files came from the repository');
  t.equal(app.mirrorgate.counters.totals.get('_local')?.requests ?? 0, 0, 'nothing counted as served locally');
  for (const m of mirrors) {
    for (const f of FILES) {
      const gets = m.log.filter((line) => line === `GET /${f}`).length;
      t.ok(gets <= 4, `${m.url} ${f}: ${gets} ranged GETs, one check's worth (head, tail and two samples) at most`);
    }
  }
});
