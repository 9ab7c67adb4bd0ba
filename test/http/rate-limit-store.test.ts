import t from 'tap';
import { windowStore } from '../../src/http/rate-limit-store.js';

function harness(windowMs = 1000) {
  let now = 0;
  let length = windowMs;
  const Store = windowStore(() => length, () => now);
  const store = new Store({});
  const incr = (key: string) => {
    let out: { current: number; ttl: number } | undefined;
    store.incr(key, (err, result) => {
      if (err) throw err;
      out = result;
    }, 0, 0);
    return out as { current: number; ttl: number };
  };
  return {
    store: store as InstanceType<typeof Store> & { size: number },
    incr,
    advance: (ms: number) => { now += ms; },
    setWindow: (ms: number) => { length = ms; },
  };
}

t.test('counts per client within its window, then starts over', async (t) => {
  const h = harness(1000);
  t.same(h.incr('a'), { current: 1, ttl: 1000 });
  h.advance(400);
  t.same(h.incr('a'), { current: 2, ttl: 600 });
  t.same(h.incr('b'), { current: 1, ttl: 1000 }, 'another client has its own window');
  h.advance(600);
  t.same(h.incr('a'), { current: 1, ttl: 1000 }, "a's window ended: a new one begins");
  t.same(h.incr('b'), { current: 2, ttl: 400 }, "b's window is still open");
});

t.test('a client is remembered across one generation rotation and forgotten after two silent windows', async (t) => {
  const h = harness(1000);
  h.incr('a');
  h.advance(900);
  h.incr('a');
  h.advance(200); // rotation: 'a' moves with its window into the new generation
  t.equal(h.incr('a').current, 1, 'window of 1000 ms ended at 1000');
  h.incr('old');
  h.advance(1000);
  h.incr('x'); // rotation
  h.advance(1000);
  h.incr('y'); // rotation: 'old' has been silent for two windows
  t.equal(h.store.size, 2, 'only the clients of the last two windows are kept');
});

t.test('the window length follows the config at once', async (t) => {
  const h = harness(60_000);
  h.incr('a');
  h.setWindow(1000);
  h.advance(1000);
  t.equal(h.incr('a').current, 1, 'the shorter window applies to an open count');
});

t.test('a full store drops the clients seen longest ago, never every window at once', async (t) => {
  let now = 0;
  const Store = windowStore(() => 60_000, () => now, undefined, 100);
  const store = new Store({});
  const incr = (key: string) => {
    let current = 0;
    store.incr(key, (_err, result) => { current = result?.current ?? 0; }, 0, 0);
    return current;
  };
  for (let i = 0; i < 5; i++) incr('busy');
  for (let i = 0; i < 99; i++) incr(`flood-${i}`);
  now += 10;
  t.equal(incr('busy'), 6, 'the busy client keeps its count');
  incr('one-more'); // the 101st client: the oldest 1% go, and 'busy' was the first one seen
  t.equal(incr('busy'), 1, 'the client seen longest ago was dropped');
  t.equal(incr('flood-98'), 2, 'recent clients keep their counts');
  t.equal(incr('flood-1'), 2, 'only the oldest few were dropped');
});

t.test('with shared counts, the other workers\' admissions count against the client', async (t) => {
  const { SharedCounts, RateAggregator } = await import('../../src/http/rate-share.js');
  let now = 0;
  const sent: [number, [string, number][]][] = [];
  const aggregator = new RateAggregator(() => 1000, () => now);
  const workers = [1, 2].map((id) => new SharedCounts((deltas) => sent.push([id, deltas]), () => now));
  const stores = workers.map((shared) => new (windowStore(() => 1000, () => now, shared))({}));
  const incr = (w: number, key: string) => {
    let current = 0;
    stores[w]?.incr(key, (_err, result) => { current = result?.current ?? 0; }, 0, 0);
    return current;
  };
  const exchange = () => {
    for (const w of workers) w.flush();
    for (const [id, deltas] of sent.splice(0)) {
      for (const [to, counts] of aggregator.add(id, deltas, [1, 2])) workers[to - 1]?.receive(counts);
    }
  };
  for (let i = 0; i < 7; i++) incr(0, 'client');
  for (let i = 0; i < 3; i++) incr(1, 'client');
  exchange();
  t.equal(incr(0, 'client'), 11, 'worker 1 adds the 3 that worker 2 admitted');
  t.equal(incr(1, 'client'), 11, 'worker 2 adds the 7 that worker 1 admitted');
  t.equal(incr(1, 'other'), 1, 'other clients are apart');
  exchange();
  now += 1000;
  t.equal(incr(0, 'client'), 1, 'a new window starts from nothing on both sides');
  for (const w of workers) w.stop();
});
