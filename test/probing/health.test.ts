// The health state machine, rule by rule: what takes a mirror down, what brings it back, how often a
// mirror that is down is asked again.
import t from 'tap';
import { initialHealth, judgeHealthProbe, nextHealth, nextProbeDelay, type Health, type ProbeOutcome } from '../../src/probing/health.js';
import type { HeadResult } from '../../src/probing/http-client.js';

const T = { failuresToDown: 3, successesToUp: 2 };
const ok: ProbeOutcome = { ok: true, latencyMs: 5 };
const fail: ProbeOutcome = { ok: false, reason: 'HTTP 503', immediate: false };
const head = (over: Partial<Extract<HeadResult, { ok: true }>>): HeadResult => ({
  ok: true, status: 200, contentLength: 100, lastModified: undefined, etag: undefined, location: undefined, latencyMs: 5, ...over,
});

function run(outcomes: readonly ProbeOutcome[], from: Health = initialHealth(0)): Health[] {
  const seen: Health[] = [];
  let h = from;
  outcomes.forEach((o, i) => {
    h = nextHealth(h, o, T, (i + 1) * 1000);
    seen.push(h);
  });
  return seen;
}

t.test('up after the first success from unknown; down after exactly failuresToDown ordinary failures', async (t) => {
  const [first, ...rest] = run([ok, fail, fail, fail]);
  t.equal(first?.state, 'up');
  t.same(rest.map((h) => h.state), ['up', 'up', 'down']);
  t.equal(rest[0]?.reason, 'HTTP 503 (1 of 3 failures)');
  t.equal(rest[2]?.reason, 'HTTP 503');
  t.equal(rest[2]?.since, 4000, 'since: the moment it went down');
});

t.test('a mirror that is down comes back only after successesToUp successes in a row', async (t) => {
  const down = run([ok, fail, fail, fail]).at(-1) as Health;
  const [one, two] = run([ok, ok], down);
  t.equal(one?.state, 'down', 'one success is not enough');
  t.equal(one?.reason, 'recovering: 1 of 2 probes ok');
  t.equal(two?.state, 'up');
  const [, interrupted, again] = run([ok, fail, ok], down);
  t.equal(interrupted?.state, 'down');
  t.equal(again?.state, 'down', 'a failure in between starts the count over');
});

t.test('a refused connection takes a mirror down at once; a timeout does not', async (t) => {
  const up = run([ok]).at(-1) as Health;
  const refused = judgeHealthProbe({ ok: false, kind: 'refused', message: 'connection refused', latencyMs: 1 }, 100);
  t.match(refused, { ok: false, immediate: true });
  t.equal(nextHealth(up, refused, T, 5000).state, 'down');
  const timeout = judgeHealthProbe({ ok: false, kind: 'timeout', message: 'timeout after 3000 ms', latencyMs: 3000 }, 100);
  t.match(timeout, { ok: false, immediate: false });
  t.equal(nextHealth(up, timeout, T, 5000).state, 'up');
});

t.test('only a 200 of the right size is healthy: 3xx, 4xx, 5xx and another size are failures', async (t) => {
  t.match(judgeHealthProbe(head({}), 100), { ok: true });
  for (const status of [301, 302, 307, 308]) {
    t.match(judgeHealthProbe(head({ status, location: 'http://elsewhere/' }), 100), { ok: false, reason: new RegExp(`HTTP ${status} redirect to http://elsewhere/`) });
  }
  for (const status of [204, 206, 403, 404, 500, 503]) t.match(judgeHealthProbe(head({ status }), 100), { ok: false, reason: `HTTP ${status}` });
  t.match(judgeHealthProbe(head({ contentLength: 99 }), 100), { ok: false, reason: 'size 99 != 100' });
});

t.test('a mirror that is down is probed less and less often, up to maxBackoff; an up or recovering one at the interval', async (t) => {
  const mid = () => 0.5; // jitter factor exactly 1
  const downAfter = (failures: number): Health => ({ ...initialHealth(0), state: 'down', failures, successes: 0 });
  t.same([1, 2, 3, 4, 5, 6, 12].map((f) => nextProbeDelay(downAfter(f), 1000, 30_000, mid)), [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  t.equal(nextProbeDelay({ ...downAfter(5), successes: 1 }, 1000, 30_000, mid), 1000, 'recovering: asked again soon');
  t.equal(nextProbeDelay(run([ok]).at(-1) as Health, 1000, 30_000, mid), 1000);
  const delays = [0, 0.999].map((r) => nextProbeDelay(downAfter(1), 1000, 30_000, () => r));
  t.ok(delays[0] === 900 && Math.round(delays[1] as number) === 1100, 'jitter is ±10%');
});
