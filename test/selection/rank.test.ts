// The order of alternates: rankMirrors' one-pass search gives exactly the order of selecting again with
// each rank avoided (rankBySelection), over random mirror sets, clients, states and loads (fast-check).
import t from 'tap';
import fc from 'fast-check';
import { chooseMirror, rankBySelection, rankMirrors, type SelectionInput, type SelectionState } from '../../src/selection/select.js';
import { planFor } from '../../src/selection/plan.js';
import { NOWHERE } from '../../src/geo/records.js';
import type { ExclusionReason } from '../../src/selection/reasons.js';
import { mirror, WORLD } from './fixtures.js';

const COUNTRIES = ['GB', 'DE', 'FR', 'US', 'JP', 'AU', 'BR', 'ZA'];
const REASONS: (ExclusionReason | undefined)[] = [undefined, undefined, undefined, 'down', 'missing', 'stale', 'unverified'];

const scenario = fc.record({
  mirrors: fc.array(fc.record({
    country: fc.option(fc.constantFrom(...COUNTRIES), { nil: undefined }),
    weight: fc.integer({ min: 1, max: 500 }),
    ipv6: fc.boolean(),
    enabled: fc.boolean(),
    reason: fc.constantFrom(...REASONS),
    load: fc.constantFrom(0, 0, 0.3, 0.9, 1, 1.5),
  }), { minLength: 1, maxLength: 30 }),
  client: fc.option(fc.constantFrom(...COUNTRIES), { nil: undefined }),
  key: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  ipv6: fc.boolean(),
  count: fc.integer({ min: 1, max: 8 }),
  avoid: fc.array(fc.integer({ min: 0, max: 29 }), { maxLength: 3 }),
  scheduler: fc.constantFrom('weighted', 'weighted', 'least-loaded', 'round-robin'),
});

t.test('the one-pass ranking equals selecting again with the earlier ranks avoided', async (t) => {
  let compared = 0;
  fc.assert(fc.property(scenario, (s) => {
    const mirrors = s.mirrors.map((m, i) => mirror(`m${i}`, { country: m.country, weight: m.weight, ipv6: m.ipv6, enabled: m.enabled }));
    const facts = new Map(mirrors.map((m, i) => [m.name, s.mirrors[i] as { reason: ExclusionReason | undefined; load: number }]));
    const state: SelectionState = {
      unavailable: (m) => facts.get(m.name)?.reason,
      utilisation: (m) => facts.get(m.name)?.load ?? 0,
    };
    const country = s.client;
    const input: SelectionInput = {
      plan: planFor(mirrors, country === undefined ? NOWHERE : { ...NOWHERE, country, continent: mirror('x', { country }).continent }),
      key: s.key, https: false, ipv6: s.ipv6, avoid: new Set(s.avoid.map((i) => `m${i}`)),
      file: { path: 'a.iso', size: 1, mtimeMs: 0, ctimeMs: 0 }, state, scheduler: s.scheduler as 'weighted', roundRobin: new Map(),
    };
    const first = chooseMirror({ ...input, roundRobin: new Map() }).chosen;
    const fast = rankMirrors(input, s.count, first).map((r) => `${r.mirror.name}/${r.tier}`);
    const slow = rankBySelection(input, s.count, first).map((r) => `${r.mirror.name}/${r.tier}`);
    compared += 1;
    return JSON.stringify(fast) === JSON.stringify(slow);
  }), { numRuns: 3000 });
  t.equal(compared, 3000);
});

t.test('ranks follow the tiers and skip what cannot serve', async (t) => {
  const plan = planFor(WORLD, { ...NOWHERE, country: 'GB', continent: 'EU', latitude: 51.5, longitude: -0.1 });
  const down = new Set(['de-frankfurt']);
  const state: SelectionState = { unavailable: (m) => (down.has(m.name) ? 'down' : undefined), utilisation: () => 0 };
  const input: SelectionInput = { plan, key: 7, https: false, ipv6: false, state, file: { path: 'a.iso', size: 1, mtimeMs: 0, ctimeMs: 0 } };
  const first = chooseMirror(input).chosen;
  t.equal(first?.name, 'uk-london');
  const ranked = rankMirrors(input, 9, first);
  t.equal(ranked.length, 8, 'every other mirror but the one that is down');
  t.notOk(ranked.some((r) => r.mirror.name === 'de-frankfurt'));
  t.same(ranked.slice(0, 2).map((r) => r.mirror.name), ['us-virginia', 'us-oregon'], 'Europe has nothing else up: the nearest beyond it come next');
  t.equal(ranked[0]?.tier, 'nearby');
  t.same(rankMirrors(input, 0, first), []);
});
