// Shared by the probing tests: two real HTTP mirrors on 127.0.0.1 that the tests switch between
// behaviours, and an app probing them every second.
import type { Test } from 'tap';
import { startMirrorServer } from '../../src/demo/mirror-server.js';
import { build, makeFixture, waitFor, writeConfig, type Fixture } from '../helper.js';

export const PROBE = { enabled: true, intervalSeconds: 1, timeoutMs: 400, failuresToDown: 3, successesToUp: 2, maxBackoffSeconds: 2, capacityEveryRounds: 0 };

export async function setup(t: Test, over: { probe?: object; mirrors?: object; config?: Record<string, unknown>; files?: Record<string, number> } = {}) {
  const fixture: Fixture = makeFixture(t, { files: over.files });
  const a = await startMirrorServer(fixture.repository);
  const b = await startMirrorServer(fixture.repository);
  t.teardown(() => Promise.all([a.close(), b.close()]));
  writeConfig(fixture.configPath, {
    mirrors: [{ name: 'a', url: a.url, ...over.mirrors }, { name: 'b', url: b.url, ...over.mirrors }],
    probe: { ...PROBE, ...over.probe },
    rateLimit: { enabled: false },
    ...over.config,
  });
  const { app } = await build(t, { fixture });
  const health = (name: string) => app.mirrorgate.states.get(name).health;
  if (!(await waitFor(() => health('a').state === 'up' && health('b').state === 'up', 10_000))) throw new Error('the mirrors did not come up');
  return { app, fixture, a, b, health };
}

/** Which target answers `path` for `n` different clients. */
export async function spread(app: Awaited<ReturnType<typeof setup>>['app'], path: string, n = 40): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const res = await app.inject({ url: `/${path}`, remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': `10.${i}.0.1` } });
    const who = String(res.headers['x-mirrorgate-mirror']);
    seen.set(who, (seen.get(who) ?? 0) + 1);
  }
  return seen;
}

export async function verified(app: Awaited<ReturnType<typeof setup>>['app'], mirror: string, path: string): Promise<boolean> {
  return waitFor(() => {
    void app.inject({ url: `/${path}` }); // asks for the checks, like real traffic does
    const e = app.mirrorgate.states.get(mirror).evidence.get(path);
    const now = app.mirrorgate.catalog.lookup(path);
    return e !== undefined && now !== undefined && e.ctimeMs === now.ctimeMs && e.size === now.size;
  }, 10_000, 100);
}

