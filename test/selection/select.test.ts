import t from 'tap';
import { selectMirror, pickByWeight } from '../../src/selection/select.js';
import type { Mirror } from '../../src/config/load.js';
import { seeded } from '../helper.js';

function mirror(name: string, over: Partial<Mirror> = {}): Mirror {
  return {
    index: 0, name, url: `https://${name}.example/`, weight: 100, bandwidthMbps: 1000,
    country: undefined, continent: undefined, latitude: undefined, longitude: undefined, enabled: true, ...over,
  };
}

const file = { path: 'a.iso', size: 1e9, mtimeMs: 0 };

t.test('weights 1:2:3 give shares of 1/6, 2/6 and 3/6 within ±2%', async (t) => {
  const mirrors = [mirror('a', { weight: 1 }), mirror('b', { weight: 2 }), mirror('c', { weight: 3 })];
  const random = seeded(42);
  const counts = new Map<string, number>();
  const draws = 60_000;
  for (let i = 0; i < draws; i++) {
    const { chosen } = selectMirror({ mirrors, file, random });
    counts.set(chosen?.name ?? 'none', (counts.get(chosen?.name ?? 'none') ?? 0) + 1);
  }
  for (const [name, expected] of [['a', 1 / 6], ['b', 2 / 6], ['c', 3 / 6]] as const) {
    const share = (counts.get(name) ?? 0) / draws;
    t.ok(Math.abs(share - expected) <= 0.02, `${name}: share ${share.toFixed(4)} vs ${expected.toFixed(4)}`);
  }
  t.notOk(counts.has('none'));
});

const cases: { name: string; mirrors: Mirror[]; avoid?: string[]; chosen: string[]; excluded: [string, string][] }[] = [
  { name: 'a disabled mirror is never chosen and is excluded as disabled',
    mirrors: [mirror('a', { enabled: false }), mirror('b')], chosen: ['b'], excluded: [['a', 'disabled']] },
  { name: 'every mirror disabled: nothing chosen, all excluded',
    mirrors: [mirror('a', { enabled: false }), mirror('b', { enabled: false })], chosen: [],
    excluded: [['a', 'disabled'], ['b', 'disabled']] },
  { name: '?avoid skips the named mirror',
    mirrors: [mirror('a'), mirror('b')], avoid: ['a'], chosen: ['b'], excluded: [['a', 'avoided']] },
  { name: '?avoid of every mirror leaves none',
    mirrors: [mirror('a'), mirror('b')], avoid: ['a', 'b'], chosen: [], excluded: [['a', 'avoided'], ['b', 'avoided']] },
  { name: 'no mirrors at all',
    mirrors: [], chosen: [], excluded: [] },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const random = seeded(7);
    for (let i = 0; i < 200; i++) {
      const result = selectMirror({ mirrors: c.mirrors, file, random, avoid: c.avoid ? new Set(c.avoid) : undefined });
      if (c.chosen.length === 0) t.equal(result.chosen, undefined);
      else t.ok(c.chosen.includes(result.chosen?.name ?? ''), `chose ${result.chosen?.name}`);
      t.same(result.excluded.map((e) => [e.mirror.name, e.reason]), c.excluded);
      if (t.passing() === false) break;
    }
  });
}

t.test('pickByWeight picks the only item, and nothing from an empty list', async (t) => {
  t.equal(pickByWeight([], Math.random), undefined);
  const only = { weight: 5 };
  t.equal(pickByWeight([only], () => 0.99), only);
  const items = [{ weight: 1 }, { weight: 1 }];
  t.equal(pickByWeight(items, () => 0), items[0]);
  t.equal(pickByWeight(items, () => 0.999999), items[1]);
});
