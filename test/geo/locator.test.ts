import t from 'tap';
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import maxmind from 'maxmind';
import { join } from 'node:path';
import { GeoLocator, shippedCityDatabases } from '../../src/geo/locator.js';
import { locationFromRecord, asnFromRecord, NOWHERE } from '../../src/geo/records.js';
import { planFor } from '../../src/selection/plan.js';
import { selectMirror } from '../../src/selection/select.js';
import { seeded, tempDir } from '../helper.js';
import { WORLD } from '../selection/fixtures.js';

const locator = new GeoLocator({ city: shippedCityDatabases(), asn: undefined, cacheSize: 1000 });
t.before(async () => {
  t.same((await locator.refresh()).problems, [], 'the shipped DB-IP Lite databases load');
});

const real: [string, string, string, string[]][] = [
  ['81.2.69.142', 'GB', 'EU', ['uk-london']],
  ['8.8.8.8', 'US', 'NA', ['us-oregon', 'us-virginia']],
  ['1.1.1.1', 'AU', 'OC', ['au-sydney']],
  ['202.12.27.33', 'JP', 'AS', ['jp-tokyo']],
  ['200.160.2.3', 'BR', 'SA', ['br-saopaulo']],
  ['2a00:1450:4001::1', 'DE', 'EU', ['de-frankfurt']],
];

for (const [ip, country, continent, nearest] of real) {
  t.test(`${ip} is in ${country} and lands on ${nearest.join(' or ')}`, async (t) => {
    const where = locator.locate(ip);
    t.match(where, { country, continent });
    t.type(where.latitude, 'number');
    const plan = planFor(WORLD, where);
    const random = seeded(1);
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      seen.add(selectMirror({ plan, key: Math.floor(random() * 4294967296), https: false, ipv6: false }).chosen?.name ?? '');
    }
    t.same([...seen].sort(), nearest);
  });
}

t.test('private and unknown addresses have no location and get the global weighted choice', async (t) => {
  for (const ip of ['10.1.2.3', '192.168.1.1', '127.0.0.1', '::1', 'fd00::1', 'garbage', '']) {
    t.equal(locator.locate(ip), NOWHERE, ip);
  }
  const plan = planFor(WORLD, NOWHERE);
  t.same(plan.groups.map((g) => g.tier), ['world']);
  t.equal(plan.members.length, WORLD.length);
});

t.test('clients of one place share one Location object (plans are cached by it)', async (t) => {
  t.equal(locator.locate('8.8.8.8'), locator.locate('8.8.8.8'));
  t.equal(locator.locate('8.8.4.4'), locator.locate('8.8.8.8'), 'same city, same object');
});

t.test('both record layouts are understood', async (t) => {
  t.same(locationFromRecord({ country_code: 'GB', latitude: 51.5, longitude: -0.09, city: 'London' }),
    { country: 'GB', continent: 'EU', latitude: 51.5, longitude: -0.09 }, 'ip-location-db / DB-IP');
  t.same(locationFromRecord({
    continent: { code: 'NA' }, country: { iso_code: 'US', names: { en: 'United States' } },
    location: { latitude: 37.75, longitude: -97.82, accuracy_radius: 1000 },
  }), { country: 'US', continent: 'NA', latitude: 37.75, longitude: -97.82 }, 'MaxMind GeoIP2/GeoLite2 City');
  t.same(locationFromRecord({ registered_country: { iso_code: 'FR' } }),
    { country: 'FR', continent: 'EU', latitude: undefined, longitude: undefined }, 'registered country when nothing else');
  t.equal(locationFromRecord(null), undefined);
  t.equal(locationFromRecord({ country_code: 'ZZ' }), undefined, 'an unknown country is no location');
  t.equal(asnFromRecord({ autonomous_system_number: 15169, autonomous_system_organization: 'GOOGLE' }), 15169, 'MaxMind ASN');
  t.equal(asnFromRecord({ asn: 'AS13335' }), 13335, 'ip-location-db asn');
  t.equal(asnFromRecord({ asn: 0 }), undefined);
});

t.test('a missing database: no locality, then picked up without a restart when it appears', async (t) => {
  const dir = tempDir(t, 'geo');
  const file = join(dir, 'city.mmdb');
  const late = new GeoLocator({ city: [file], asn: undefined, cacheSize: 100 });
  const first = await late.refresh();
  t.match(first.problems, [/cannot read .*city\.mmdb: ENOENT/]);
  t.notOk(late.active);
  t.equal(late.locate('8.8.8.8'), NOWHERE);
  writeFileSync(file, 'not a database');
  t.match((await late.refresh()).problems, [/cannot open/], 'a corrupt file is reported, not fatal');
  copyFileSync(shippedCityDatabases()[0] as string, file);
  t.match(await late.refresh(), { changed: true, problems: [] });
  t.ok(late.active);
  t.match(late.locate('8.8.8.8'), { country: 'US' }, 'the cached "nowhere" answer was dropped');
});

t.test('a new database with intact metadata but corrupt data is refused; the one in use stays', async (t) => {
  const dir = tempDir(t, 'geo');
  const file = join(dir, 'city.mmdb');
  const good = shippedCityDatabases()[0] as string;
  copyFileSync(good, file);
  const locator = new GeoLocator({ city: [file], asn: undefined, cacheSize: 100 });
  t.match(await locator.refresh(), { changed: true, problems: [] });
  t.match(locator.locate('8.8.8.8'), { country: 'US' });
  // The data section (after the search tree and its 16-byte separator) overwritten with noise; the
  // metadata at the end is untouched, so the file still opens.
  const reader = await maxmind.open(good);
  const treeBytes = (reader.metadata.nodeCount * reader.metadata.recordSize * 2) / 8;
  const bytes = readFileSync(good);
  const metadataAt = bytes.lastIndexOf(Buffer.from('\xab\xcd\xefMaxMind.com', 'latin1'));
  let x = 12345;
  for (let i = treeBytes + 16; i < metadataAt; i += 3) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  const corrupt = join(dir, 'corrupt.mmdb');
  writeFileSync(corrupt, bytes);
  renameSync(corrupt, file);
  const result = await locator.refresh();
  t.equal(result.changed, false, 'not swapped in');
  t.match(result.problems, [/refused the new .*city\.mmdb, still using the one loaded before: corrupt data/]);
  t.match(locator.locate('1.1.1.1'), { country: 'AU' }, 'the good database still answers');
  t.equal(locator.lookupErrors, 0);
});
