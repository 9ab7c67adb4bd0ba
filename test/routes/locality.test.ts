import t from 'tap';
import { build } from '../helper.js';

// Five continents; uk is http-only, jp is IPv4-only.
const MIRRORS = [
  { name: 'uk', url: 'http://uk.example.org/', country: 'GB', latitude: 51.5, longitude: -0.1 },
  { name: 'de', url: 'https://de.example.org/', country: 'DE', latitude: 50.1, longitude: 8.7 },
  { name: 'us', url: 'https://us.example.org/', country: 'US', latitude: 38.9, longitude: -77.0 },
  { name: 'au', url: 'https://au.example.org/', country: 'AU', latitude: -33.9, longitude: 151.2 },
  { name: 'jp', url: 'http://jp.example.org/', https: true, country: 'JP', latitude: 35.7, longitude: 139.7, ipv6: false },
  { name: 'br', url: 'https://br.example.org/', country: 'BR', latitude: -23.5, longitude: -46.6 },
];

async function app(t: Parameters<typeof build>[0]) {
  return (await build(t, { config: { mirrors: MIRRORS } })).app;
}

const via = (ip: string, extra: Record<string, string> = {}) => ({
  url: '/releases/1.0/big.iso', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': ip, ...extra },
});

t.test('each client address lands on its nearest mirror, named with its tier', async (t) => {
  const a = await app(t);
  for (const [ip, mirror, tier] of [['81.2.69.142', 'uk', 'country'], ['8.8.8.8', 'us', 'country'], ['1.1.1.1', 'au', 'country'],
    ['202.12.27.33', 'jp', 'country'], ['200.160.2.3', 'br', 'country']] as const) {
    const res = await a.inject(via(ip));
    t.equal(res.headers['x-mirrorgate-mirror'], mirror, ip);
    t.equal(res.headers['x-mirrorgate-tier'], tier, ip);
  }
});

t.test('X-Forwarded-For from an untrusted peer is ignored', async (t) => {
  const a = await app(t);
  const res = await a.inject({ url: '/releases/1.0/big.iso', remoteAddress: '81.2.69.142', headers: { 'x-forwarded-for': '1.1.1.1' } });
  t.equal(res.headers['x-mirrorgate-mirror'], 'uk', 'located by the peer (GB), not the header (AU)');
});

t.test('from a trusted proxy, the right-most untrusted hop is the client', async (t) => {
  const a = await app(t);
  const res = await a.inject(via('1.1.1.1, 81.2.69.142'));
  t.equal(res.headers['x-mirrorgate-mirror'], 'uk', 'the forged left-most AU address is not believed');
});

t.test('an https request is never sent to an http-only mirror, and gets https URLs', async (t) => {
  const a = await app(t);
  const res = await a.inject(via('81.2.69.142', { 'x-forwarded-proto': 'https' }));
  t.equal(res.headers['x-mirrorgate-mirror'], 'de');
  t.equal(res.headers['x-mirrorgate-tier'], 'continent');
  t.match(res.headers.location, /^https:\/\//);
  const jp = await a.inject(via('202.12.27.33', { 'x-forwarded-proto': 'https' }));
  t.equal(jp.headers.location, 'https://jp.example.org/releases/1.0/big.iso', 'https: true upgrades an http url');
});

t.test('a private address gets the global weighted choice', async (t) => {
  const a = await app(t);
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const res = await a.inject(via(`10.0.${i}.1`));
    seen.add(String(res.headers['x-mirrorgate-mirror']));
    t.equal(res.headers['x-mirrorgate-tier'], 'world');
  }
  t.ok(seen.size >= 5, `spread over ${[...seen].join(',')}`);
});

t.test('the same client network keeps its mirror for a path', async (t) => {
  const a = await app(t);
  const first = (await a.inject(via('10.9.8.7'))).headers['x-mirrorgate-mirror'];
  for (let i = 0; i < 20; i++) t.equal((await a.inject(via(`10.9.8.${i}`))).headers['x-mirrorgate-mirror'], first);
});

t.test('GET /_mirrorgate/explain says what an address would get and why', async (t) => {
  const a = await app(t);
  const res = await a.inject({ url: '/_mirrorgate/explain?path=releases/1.0/big.iso&ip=81.2.69.142&https=1&avoid=de' });
  t.equal(res.statusCode, 200);
  t.match(res.json(), {
    path: 'releases/1.0/big.iso',
    client: { address: '81.2.69.142', https: true, location: { country: 'GB' } },
    chosen: 'us',
    tier: 'nearby',
  });
  const rows = res.json().mirrors as { name: string; status: string }[];
  t.match(rows.find((m) => m.name === 'uk'), { status: 'no-https' });
  t.match(rows.find((m) => m.name === 'de'), { status: 'avoided' });
  t.equal((await a.inject({ url: '/_mirrorgate/explain?path=nope.iso' })).statusCode, 404);
  t.equal((await a.inject({ url: '/_mirrorgate/explain?path=releases/1.0/big.iso&ip=bogus' })).statusCode, 400);
});
