import t from 'tap';
import { nextCapacity, effectiveMbps, INITIAL_CAPACITY } from '../../src/probing/capacity.js';
import { MirrorStates } from '../../src/probing/mirror-states.js';
import { validateConfig, type Config, type Mirror } from '../../src/config/load.js';
import { selectMirror, type Scheduler } from '../../src/selection/select.js';
import { planFor } from '../../src/selection/plan.js';
import { NOWHERE } from '../../src/geo/records.js';
import { seeded } from '../helper.js';

function configOf(mirrors: object[], extra: object = {}): Config {
  const result = validateConfig({ mirrors, probe: { enabled: true }, ...extra }, '/tmp/mirrors.json');
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config;
}

t.test('throughput probes: a mirror slowing against its own baseline loses capacity, down to the floor', async (t) => {
  let c = nextCapacity(INITIAL_CAPACITY, { ok: true, bytesPerSecond: 50e6, ttfbMs: 20 });
  t.equal(c.factor, 1, 'the first sample is the baseline');
  c = nextCapacity(c, { ok: true, bytesPerSecond: 50e6, ttfbMs: 20 });
  t.equal(c.factor, 1);
  c = nextCapacity(c, { ok: true, bytesPerSecond: 5e6, ttfbMs: 20 });
  t.ok(c.factor < 0.6, `10× slower: factor ${c.factor}`);
  c = nextCapacity(c, { ok: true, bytesPerSecond: 50e6, ttfbMs: 400 });
  t.ok(c.factor < 0.5, `20× the latency: factor ${c.factor}`);
  const noisy = nextCapacity(nextCapacity(INITIAL_CAPACITY, { ok: true, bytesPerSecond: 50e6, ttfbMs: 2 }), { ok: true, bytesPerSecond: 40e6, ttfbMs: 9 });
  t.equal(noisy.factor, 1, 'a few ms of latency and 20% less throughput are noise');
  c = nextCapacity(c, { ok: false });
  t.ok(c.factor < 0.25, `a failed probe halves it: ${c.factor}`);
  t.equal(effectiveMbps(1000, { ...c, factor: 0.01 }, 0.1, 0), 100, 'never below the floor');
  t.equal(effectiveMbps(1000, INITIAL_CAPACITY, 0.1, 1), 500, 'a failing health probe halves it');
  for (let i = 0; i < 20; i++) c = nextCapacity(c, { ok: true, bytesPerSecond: 50e6, ttfbMs: 20 });
  t.ok(c.factor > 0.99, 'recovers when the mirror is fast again');
});

/** Shares over `n` requests, each one's bytes added to the chosen mirror's load as it would be. */
function run(config: Config, scheduler: Scheduler, n: number, bytes: number, preload: Record<string, number> = {}) {
  let now = 1_000_000;
  const states = new MirrorStates(() => config, () => now, () => {});
  const byName = (name: string) => config.mirrors.find((m) => m.name === name) as Mirror;
  for (const [name, b] of Object.entries(preload)) states.recordSent(byName(name), b);
  const plan = planFor(config.mirrors, NOWHERE);
  const random = seeded(3);
  const roundRobin = new Map<string, number>();
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const { chosen } = selectMirror({ plan, key: Math.floor(random() * 4294967296), https: false, ipv6: false, state: states, scheduler, roundRobin });
    const name = chosen?.name ?? 'none';
    counts.set(name, (counts.get(name) ?? 0) + 1);
    if (bytes > 0 && chosen !== undefined) states.recordSent(chosen, bytes);
    now += 1;
  }
  return { shares: new Map([...counts].map(([k, v]) => [k, v / n])), states };
}

const twoMirrors = [
  { name: 'a', url: 'https://a.example/', weight: 100, bandwidthMbps: 1000 },
  { name: 'b', url: 'https://b.example/', weight: 300, bandwidthMbps: 3000 },
];

t.test('weighted: when no mirror is saturated the shares follow the weights', async (t) => {
  const { shares } = run(configOf(twoMirrors), 'weighted', 20_000, 0);
  t.ok(Math.abs((shares.get('a') ?? 0) - 0.25) < 0.02, `a ${shares.get('a')}`);
});

t.test('weighted: a mirror fed beyond its capacity gets a smaller share', async (t) => {
  const config = configOf([{ ...twoMirrors[0], weight: 100 }, { ...twoMirrors[1], weight: 100 }]);
  // a has been sent 75% of what 1000 Mbit/s moves in the 60 s window: headroom 0.25 against b's ~1.
  const { shares } = run(config, 'weighted', 20_000, 0, { a: 0.75 * 1000e6 / 8 * 60 });
  t.ok(Math.abs((shares.get('a') ?? 0) - 0.2) < 0.02, `a ${shares.get('a')} ≈ 0.25 / 1.25`);
  const full = run(config, 'weighted', 2000, 0, { a: 1.5 * 1000e6 / 8 * 60 });
  t.equal(full.shares.get('a'), undefined, 'a saturated mirror gets nothing while another has room');
});

t.test('round-robin: exact weighted proportions, whatever the load', async (t) => {
  const config = configOf([{ ...twoMirrors[0], weight: 1 }, { ...twoMirrors[1], weight: 3 }]);
  const { shares } = run(config, 'round-robin', 400, 0, { b: 1e15 });
  t.same(shares, new Map([['a', 0.25], ['b', 0.75]]));
});

t.test('least-loaded: utilisation is equalised, so shares follow capacity', async (t) => {
  const config = configOf([{ ...twoMirrors[0], weight: 100 }, { ...twoMirrors[1], weight: 100 }]);
  const { shares, states } = run(config, 'least-loaded', 4000, 10e6);
  t.ok(Math.abs((shares.get('a') ?? 0) - 0.25) < 0.02, `a ${shares.get('a')} ≈ 1000 / 4000 Mbit/s`);
  const [a, b] = config.mirrors as [Mirror, Mirror];
  t.ok(Math.abs(states.utilisation(a) - states.utilisation(b)) < 0.01, 'equal utilisation');
});

t.test('every group saturated: still one is chosen, the least utilised', async (t) => {
  const config = configOf(twoMirrors);
  const { shares } = run(config, 'weighted', 100, 0, { a: 1e15, b: 1e16 });
  t.same(shares, new Map([['a', 1]]));
});
