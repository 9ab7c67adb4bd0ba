import t from 'tap';
import { chooseMirror, selectMirror, type SelectionInput } from '../../src/selection/select.js';
import { planFor } from '../../src/selection/plan.js';
import { requestKey, unitFor, hashString } from '../../src/selection/hash.js';
import { NOWHERE, type Location } from '../../src/geo/records.js';
import type { Mirror } from '../../src/config/load.js';
import { seeded } from '../helper.js';
import { mirror, WORLD } from './fixtures.js';

const at = (over: Partial<Location>): Location => ({ ...NOWHERE, ...over });
const LONDON = at({ country: 'GB', continent: 'EU', latitude: 51.5, longitude: -0.1 });
const PARIS = at({ country: 'FR', continent: 'EU', latitude: 48.9, longitude: 2.35 });

function select(mirrors: Mirror[], client: Location, over: Partial<SelectionInput> = {}) {
  return selectMirror({ plan: planFor(mirrors, client), key: 12345, https: false, ipv6: false, ...over });
}

/** Share of each chosen mirror over `n` client keys drawn from a seeded random. */
function shares(mirrors: Mirror[], client: Location, n: number, over: Partial<SelectionInput> = {}) {
  const plan = planFor(mirrors, client);
  const random = seeded(2026);
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const name = selectMirror({ plan, key: Math.floor(random() * 4294967296), https: false, ipv6: false, ...over }).chosen?.name ?? 'none';
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return new Map([...counts].map(([k, v]) => [k, v / n]));
}

t.test('weights 1:2:3 give shares of 1/6, 2/6 and 3/6 within ±2% over 60,000 draws', async (t) => {
  const got = shares([mirror('a', { weight: 1 }), mirror('b', { weight: 2 }), mirror('c', { weight: 3 })], NOWHERE, 60_000);
  for (const [name, expected] of [['a', 1 / 6], ['b', 2 / 6], ['c', 3 / 6]] as const) {
    t.ok(Math.abs((got.get(name) ?? 0) - expected) <= 0.02, `${name}: ${got.get(name)} vs ${expected}`);
  }
});

t.test('shares inside a group follow the weights within ±2% over 100,000 clients', async (t) => {
  const group = [mirror('a', { country: 'DE', weight: 50 }), mirror('b', { country: 'FR', weight: 150 }), mirror('c', { country: 'NL', weight: 300 })];
  const got = shares([...group, mirror('far', { country: 'JP', weight: 1000 })], at({ country: 'GB', continent: 'EU' }), 100_000);
  t.equal(got.get('far'), undefined, 'the other continent gets none');
  for (const [name, expected] of [['a', 0.1], ['b', 0.3], ['c', 0.6]] as const) {
    t.ok(Math.abs((got.get(name) ?? 0) - expected) <= 0.02, `${name}: ${got.get(name)} vs ${expected}`);
  }
});

const tierCases: { name: string; client: Location; mirrors: Mirror[]; expect: string[]; tier: string }[] = [
  { name: 'same ASN beats same country', client: at({ asn: 64500, country: 'DE', continent: 'EU' }),
    mirrors: [mirror('de', { country: 'DE' }), mirror('isp', { country: 'NL', asn: 64500 })], expect: ['isp'], tier: 'asn' },
  { name: 'same country beats same continent', client: at({ country: 'DE', continent: 'EU' }),
    mirrors: [mirror('de', { country: 'DE' }), mirror('fr', { country: 'FR' })], expect: ['de'], tier: 'country' },
  { name: 'same continent beats a nearer mirror elsewhere', client: at({ country: 'TR', continent: 'AS', latitude: 41, longitude: 29 }),
    mirrors: [mirror('jp', { country: 'JP', latitude: 35.7, longitude: 139.7 }), mirror('bg', { country: 'BG', latitude: 42.7, longitude: 23.3 })],
    expect: ['jp'], tier: 'continent' },
  { name: 'no mirror on the continent: the nearest band', client: at({ country: 'ZA', continent: 'AF', latitude: -26.2, longitude: 28 }),
    mirrors: WORLD, expect: ['br-saopaulo', 'ar-buenosaires', 'de-frankfurt', 'sg-singapore'], tier: 'nearby' },
  { name: 'the nearest band is the nearest mirror plus 1500 km', client: at({ country: 'IN', continent: 'AS', latitude: 19, longitude: 72.8 }),
    mirrors: WORLD.filter((m) => m.continent !== 'AS'), expect: ['de-frankfurt', 'uk-london'], tier: 'nearby' },
  { name: 'a mirror without coordinates still counts by country', client: LONDON,
    mirrors: [mirror('uk', { country: 'GB' }), mirror('fr', { country: 'FR', latitude: 48.9, longitude: 2.35 })], expect: ['uk'], tier: 'country' },
  { name: 'unknown location: everyone is in the world tier', client: NOWHERE,
    mirrors: WORLD, expect: WORLD.map((m) => m.name), tier: 'world' },
];

for (const c of tierCases) {
  t.test(`tiers: ${c.name}`, async (t) => {
    const random = seeded(9);
    const seen = new Set<string>();
    const tiers = new Set<string | undefined>();
    for (let i = 0; i < 2000; i++) {
      const r = select(c.mirrors, c.client, { key: Math.floor(random() * 4294967296) });
      seen.add(r.chosen?.name ?? 'none');
      tiers.add(r.tier);
    }
    t.same([...tiers], [c.tier], 'the tier, for every one of 2000 clients');
    t.same([...seen].sort(), [...c.expect].sort(), 'the mirrors they get');
  });
}

t.test('eligibility never depends on far-away mirrors: adding one leaves local shares unchanged', async (t) => {
  const local = [mirror('de', { country: 'DE', weight: 100 }), mirror('fr', { country: 'FR', weight: 300 }), mirror('jp', { country: 'JP' })];
  const before = shares(local, PARIS, 20_000);
  const after = shares([...local, mirror('far', { country: 'AU', weight: 10_000, latitude: -33, longitude: 151 })], PARIS, 20_000);
  t.same(after, before);
});

t.test('sticky: the same client network and path always get the same mirror', async (t) => {
  const plan = planFor(WORLD, NOWHERE);
  const pick = (ip: string, path: string) => selectMirror({ plan, key: requestKey(ip, path), https: false, ipv6: false }).chosen?.name;
  const first = pick('198.51.100.7', 'a.iso');
  t.same(new Set(Array.from({ length: 50 }, () => pick('198.51.100.7', 'a.iso'))), new Set([first]), '50 times the same');
  t.equal(pick('198.51.100.200', 'a.iso'), first, 'same /24');
  t.equal(pick('2001:db8:1:ab12::1', 'a.iso'), pick('2001:db8:1:ab99:ffff::2', 'a.iso'), 'same /56');
});

t.test('disabling a mirror moves only that mirror\'s clients', async (t) => {
  const random = seeded(5);
  const keys = Array.from({ length: 20_000 }, () => Math.floor(random() * 4294967296));
  const planAll = planFor(WORLD, NOWHERE);
  const without = WORLD.map((m) => (m.name === 'jp-tokyo' ? { ...m, enabled: false } : m));
  const planWithout = planFor(without, NOWHERE);
  let moved = 0;
  for (const key of keys) {
    const a = selectMirror({ plan: planAll, key, https: false, ipv6: false }).chosen?.name;
    const b = selectMirror({ plan: planWithout, key, https: false, ipv6: false }).chosen?.name;
    if (a !== b) {
      moved += 1;
      if (a !== 'jp-tokyo') t.fail(`key ${key} moved from ${a} to ${b}`);
    }
  }
  t.ok(moved > 0, `${moved} clients of jp-tokyo moved`);
});

const exclusionCases: { name: string; mirrors: Mirror[]; client: Location; over?: Partial<SelectionInput>; chosen: string | undefined; excluded: [string, string][] }[] = [
  { name: 'a disabled mirror is never chosen and is excluded as disabled', client: NOWHERE,
    mirrors: [mirror('a', { enabled: false }), mirror('b')], chosen: 'b', excluded: [['a', 'disabled']] },
  { name: 'countryOnly serves only its countries', client: LONDON,
    mirrors: [mirror('de', { country: 'DE', onlyCountries: ['DE', 'AT'] }), mirror('b', { country: 'US' })], chosen: 'b', excluded: [['de', 'country-only']] },
  { name: 'countryOnly serves its own countries', client: at({ country: 'AT', continent: 'EU' }),
    mirrors: [mirror('de', { country: 'DE', onlyCountries: ['DE', 'AT'] })], chosen: 'de', excluded: [] },
  { name: 'countryOnly refuses a client of unknown country', client: NOWHERE,
    mirrors: [mirror('de', { country: 'DE', onlyCountries: ['DE'] })], chosen: undefined, excluded: [['de', 'country-only']] },
  { name: 'continentOnly serves only its continent', client: at({ country: 'US', continent: 'NA' }),
    mirrors: [mirror('de', { country: 'DE', continentOnly: true }), mirror('jp', { country: 'JP' })], chosen: 'jp', excluded: [['de', 'continent-only']] },
  { name: 'continentOnly refuses a client of unknown location', client: NOWHERE,
    mirrors: [mirror('de', { country: 'DE', continentOnly: true }), mirror('jp', { country: 'JP' })], chosen: 'jp', excluded: [['de', 'continent-only']] },
  { name: 'continentOnly serves its own continent', client: LONDON,
    mirrors: [mirror('de', { country: 'DE', continent: 'EU', continentOnly: true })], chosen: 'de', excluded: [] },
  { name: 'excludeCountries never serves those clients', client: LONDON,
    mirrors: [mirror('uk', { country: 'GB', excludeCountries: ['GB'] }), mirror('de', { country: 'DE' })], chosen: 'de', excluded: [['uk', 'excluded-country']] },
  { name: 'an https request never goes to an http-only mirror', client: LONDON, over: { https: true },
    mirrors: [mirror('uk', { country: 'GB', httpsUrl: undefined }), mirror('de', { country: 'DE' })], chosen: 'de', excluded: [['uk', 'no-https']] },
  { name: 'an http request may go to an http-only mirror', client: LONDON,
    mirrors: [mirror('uk', { country: 'GB', httpsUrl: undefined }), mirror('de', { country: 'DE' })], chosen: 'uk', excluded: [] },
  { name: '?avoid skips the named mirror', client: NOWHERE, over: { avoid: new Set(['a']) },
    mirrors: [mirror('a'), mirror('b')], chosen: 'b', excluded: [['a', 'avoided']] },
  { name: 'nothing eligible: nothing chosen', client: NOWHERE, over: { avoid: new Set(['a', 'b']) },
    mirrors: [mirror('a'), mirror('b')], chosen: undefined, excluded: [['a', 'avoided'], ['b', 'avoided']] },
  { name: 'no mirrors at all', client: NOWHERE, mirrors: [], chosen: undefined, excluded: [] },
];

for (const c of exclusionCases) {
  t.test(c.name, async (t) => {
    // One behaviour, one assertion: the same answer for 200 random clients.
    const random = seeded(7);
    const answers = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const r = select(c.mirrors, c.client, { key: Math.floor(random() * 4294967296), ...c.over });
      answers.add(JSON.stringify({ chosen: r.chosen?.name ?? null, excluded: r.excluded.map((e) => [e.mirror.name, e.reason]) }));
    }
    t.same([...answers].map((a) => JSON.parse(a) as unknown), [{ chosen: c.chosen ?? null, excluded: c.excluded }], 'for every one of 200 clients');
  });
}

t.test('IPv6 clients prefer IPv6-capable mirrors, and still get one when the group has none', async (t) => {
  const mirrors = [mirror('v4', { country: 'DE', ipv6: false, weight: 1000 }), mirror('v6', { country: 'DE', weight: 1 })];
  const de = at({ country: 'DE', continent: 'EU' });
  t.same(shares(mirrors, de, 2000, { ipv6: true }), new Map([['v6', 1]]));
  t.ok((shares(mirrors, de, 2000, { ipv6: false }).get('v4') ?? 0) > 0.9, 'IPv4 clients follow the weights');
  t.same(shares([mirrors[0] as Mirror], de, 100, { ipv6: true }), new Map([['v4', 1]]));
});

t.test('a saturated group widens to the next tier; all saturated picks the least utilised', async (t) => {
  const mirrors = [mirror('uk', { country: 'GB' }), mirror('de', { country: 'DE' }), mirror('us', { country: 'US' })];
  const load = new Map([['uk', 1.2], ['de', 0.5], ['us', 0]]);
  const file = { path: 'a.iso', size: 1, mtimeMs: 0 };
  const state = { unavailable: () => undefined, utilisation: (m: Mirror) => load.get(m.name) ?? 0 };
  t.match(select(mirrors, LONDON, { state, file }), { chosen: { name: 'de' }, tier: 'continent' });
  load.set('de', 1);
  t.match(select(mirrors, LONDON, { state, file }), { chosen: { name: 'us' }, tier: 'world' });
  load.set('us', 3);
  t.match(select(mirrors, LONDON, { state, file }), { chosen: { name: 'de' } }, 'all saturated: the least utilised, never a refusal');
});

t.test('the redirect path\'s lazy search picks exactly what the full rendezvous rule picks in a large group', async (t) => {
  const mirrors = Array.from({ length: 120 }, (_, i) => mirror(`m${i}`, { weight: 50 + (i % 7) * 25, ipv6: i % 3 !== 0 }));
  const down = new Set(mirrors.filter((_, i) => i % 5 === 0).map((m) => m.name));
  const load = new Map(mirrors.map((m, i) => [m.name, (i % 11) / 10])); // 0 .. 1 (saturated)
  const file = { path: 'a.iso', size: 1, mtimeMs: 0 };
  const state = {
    unavailable: (m: Mirror) => (down.has(m.name) ? 'down' as const : undefined),
    utilisation: (m: Mirror) => load.get(m.name) ?? 0,
  };
  const plan = planFor(mirrors, NOWHERE);
  const random = seeded(11);
  for (let i = 0; i < 3000; i++) {
    const key = Math.floor(random() * 4294967296);
    for (const ipv6 of [false, true]) {
      const got = chooseMirror({ plan, key, https: false, ipv6, state, file }).chosen?.name;
      const eligible = mirrors.filter((m) => !down.has(m.name) && (load.get(m.name) ?? 0) < 1);
      const pool = ipv6 && mirrors.some((m) => !down.has(m.name) && m.ipv6) ? eligible.filter((m) => m.ipv6) : eligible;
      let want: string | undefined;
      let wantScore = Infinity;
      for (const m of pool) {
        const score = -Math.log(unitFor(key, hashString(m.name))) / (m.weight * (1 - (load.get(m.name) ?? 0)));
        if (score < wantScore) {
          wantScore = score;
          want = m.name;
        }
      }
      if (got !== want) {
        t.fail(`key ${key} ipv6 ${ipv6}: got ${got}, the rule says ${want}`);
        return;
      }
    }
  }
  t.pass('3000 keys × 2 address families agree');
});

t.test('chooseMirror (the redirect path) and selectMirror (the full rule) agree on every kind of plan and state', async (t) => {
  const random = seeded(99);
  const countries = ['GB', 'DE', 'FR', 'US', 'JP', 'AU', 'BR'];
  const clients = [NOWHERE, LONDON, PARIS, at({ country: 'US', continent: 'NA', latitude: 40, longitude: -100 }), at({ country: 'JP', continent: 'AS', latitude: 35.7, longitude: 139.7 })];
  const file = { path: 'a.iso', size: 1, mtimeMs: 0 };
  let compared = 0;
  for (let round = 0; round < 60; round++) {
    const size = 1 + Math.floor(random() * 40);
    const mirrors = Array.from({ length: size }, (_, i) => {
      const country = countries[Math.floor(random() * countries.length)] as string;
      const place = WORLD.find((w) => w.country === country);
      return mirror(`m${round}-${i}`, {
        country, latitude: place?.latitude, longitude: place?.longitude,
        weight: 1 + Math.floor(random() * 300), ipv6: random() < 0.6,
        httpsUrl: random() < 0.8 ? `https://m${i}.example/` : undefined,
      });
    });
    const down = new Set(mirrors.filter(() => random() < 0.3).map((m) => m.name));
    const load = new Map(mirrors.map((m) => [m.name, random() < 0.3 ? 1 + random() : random() < 0.5 ? 0 : random()]));
    const state = {
      unavailable: (m: Mirror) => (down.has(m.name) ? 'down' as const : undefined),
      utilisation: (m: Mirror) => load.get(m.name) ?? 0,
    };
    for (const client of clients) {
      const plan = planFor(mirrors, client);
      for (let k = 0; k < 50; k++) {
        const input: SelectionInput = {
          plan, key: Math.floor(random() * 4294967296), https: random() < 0.3, ipv6: random() < 0.5, state, file,
          avoid: random() < 0.2 ? new Set([mirrors[0]?.name as string]) : undefined,
        };
        const fast = chooseMirror(input);
        const full = selectMirror(input);
        compared += 1;
        if (fast.chosen?.name !== full.chosen?.name || fast.tier !== full.tier) {
          t.fail(`round ${round}, key ${input.key}, ipv6 ${input.ipv6}: fast ${fast.chosen?.name}/${fast.tier}, full ${full.chosen?.name}/${full.tier}`);
          return;
        }
      }
    }
  }
  t.pass(`${compared} selections agree, mirror and tier`);
});
