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
