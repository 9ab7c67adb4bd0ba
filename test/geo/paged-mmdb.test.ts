// The paged reader (src/geo/paged-mmdb.ts) reads the shipped files where they lie; the maxmind package
// reads them whole into memory. For every address asked, both must give the same record.
import t from 'tap';
import maxmind from 'maxmind';
import { shippedCityDatabases } from '../../src/geo/locator.js';
import { PagedMmdbReader } from '../../src/geo/paged-mmdb.js';

/** Addresses spread over the whole space: a linear congruential walk, seeded, so a failure repeats. */
function addresses(count: number, v6: boolean): string[] {
  const out: string[] = [];
  let x = 0x9e3779b9;
  const next = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0);
  for (let i = 0; i < count; i++) {
    if (!v6) {
      const n = next();
      out.push(`${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`);
      continue;
    }
    // Mostly global unicast (2000::/3), where the data is; some anywhere, some compressed and v4-mapped.
    const groups = Array.from({ length: 8 }, () => (next() >>> 16).toString(16));
    if (i % 4 !== 0) groups[0] = (0x2000 | (next() & 0x1fff)).toString(16);
    const text = groups.join(':');
    out.push(i % 5 === 0 ? `${groups.slice(0, 3).join(':')}::${groups[7]}` : i % 7 === 0 ? `::ffff:${i & 255}.${(i >> 8) & 255}.1.2` : text);
  }
  return out;
}

for (const file of shippedCityDatabases()) {
  t.test(`${file.split('/').pop()}: the paged reader answers as the maxmind package does`, async (t) => {
    const whole = await maxmind.open(file);
    const paged = new PagedMmdbReader(file);
    t.teardown(() => paged.close());
    t.equal(paged.metadata.ipVersion, whole.metadata.ipVersion);
    t.equal(paged.metadata.nodeCount, whole.metadata.nodeCount);
    t.equal(paged.metadata.recordSize, whole.metadata.recordSize);
    const v6 = whole.metadata.ipVersion === 6;
    const asked = [...addresses(20_000, v6), ...(v6 ? ['::', '::1', '2a00:1450:4001::1', 'fe80::1%eth0'] : ['0.0.0.0', '255.255.255.255', '8.8.8.8', '81.2.69.142'])];
    let found = 0;
    const differ: string[] = [];
    for (const ip of asked) {
      const expected = whole.get(ip);
      const got = paged.get(ip);
      if (expected !== null) found += 1;
      if (JSON.stringify(got) !== JSON.stringify(expected)) differ.push(ip);
    }
    t.same(differ.slice(0, 10), [], `${asked.length} addresses, the same record for each`);
    t.ok(found > asked.length / 4, `most of them located (${found}): the comparison is not of nulls`);
    t.equal(paged.get('not an address'), null);
  });
}

t.test('a file that is not an MMDB is refused with a reason', async (t) => {
  t.throws(() => new PagedMmdbReader(new URL(import.meta.url).pathname), /no metadata marker/);
});
