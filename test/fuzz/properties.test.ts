// Property-based tests (fast-check) over the three places hostile input enters: the request path, the
// client address headers and the config file. Bounded runs; a failure prints its seed and the smallest
// input that fails, so it can be replayed.
import t from 'tap';
import fc from 'fast-check';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { normalizeRequestPath, encodePath } from '../../src/catalog/request-path.js';
import { resolveClient } from '../../src/http/client-address.js';
import { normalizeIp, clientKey } from '../../src/http/ip.js';
import { TrustList } from '../../src/http/trust-list.js';
import { validateConfig, formatProblems } from '../../src/config/load.js';

const RUNS = { numRuns: 3000 };

/** Path-ish text: segments of dots, slashes, percent escapes (good and bad), NULs and ordinary letters. */
const pathPiece = fc.oneof(
  fc.constantFrom('/', '.', '..', '%2e', '%2E', '%2f', '%2F', '%5c', '\\', '%00', '%', '%zz', '%c3%bc', '?', '#', ';', '//', 'a', 'b.iso', '~', ' ', '%20'),
  fc.string({ maxLength: 6 }),
);
const rawPath = fc.array(pathPiece, { maxLength: 12 }).map((parts) => `/${parts.join('')}`);
const REPO = '/srv/repository';

t.test('request paths: never throws; an accepted path is clean and stays inside the repository', async (t) => {
  fc.assert(fc.property(fc.oneof(rawPath, fc.string(), fc.webPath()), (url) => {
    const r = normalizeRequestPath(url);
    if (!r.ok) return r.status === 400;
    const segments = r.path.split('/');
    if (r.path !== '' && segments.some((s) => s === '' || s === '.' || s === '..')) return false;
    if (r.path.includes('\0') || r.path.startsWith('/')) return false;
    const onDisk = resolve(join(REPO, r.path));
    return onDisk === REPO || onDisk.startsWith(`${REPO}/`);
  }), RUNS);
  t.pass('held for every generated path');
});

t.test('request paths: a catalog path, encoded for a Location, reads back as itself', async (t) => {
  const segment = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s !== '.' && s !== '..' && !s.includes('/') && !s.includes('\0'));
  fc.assert(fc.property(fc.array(segment, { minLength: 1, maxLength: 6 }), (segments) => {
    const path = segments.join('/');
    const back = normalizeRequestPath(`/${encodePath(path)}`);
    return back.ok && back.path === path;
  }), RUNS);
  t.pass('round trip held');
});

const trusted = new TrustList(['127.0.0.1/32', '::1/128', '10.0.0.0/8']);
const anyIp = fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), fc.constantFrom('::ffff:127.0.0.1', '127.0.0.1', '::1', '10.1.2.3'));
const hop = fc.oneof(anyIp, anyIp.map((ip) => `[${ip}]:4711`), anyIp.map((ip) => `${ip}:80`), fc.string({ maxLength: 20 }), fc.constant('unknown'));
const headerValue = fc.array(hop, { maxLength: 5 }).map((hops) => hops.join(', '));
const forwarded = fc.array(fc.record({ for: hop, proto: fc.constantFrom('http', 'https', 'HTTPS', 'ftp', '"https"') }), { maxLength: 4 })
  .map((els) => els.map((e) => `for="${e.for}";proto=${e.proto}`).join(', '));

t.test('client addresses: never throws, always a normalised IP or nothing, and an untrusted peer is believed alone', async (t) => {
  fc.assert(fc.property(anyIp, fc.option(headerValue), fc.option(forwarded), fc.option(fc.string({ maxLength: 12 })), fc.boolean(),
    (peer, xff, fwd, proto, encrypted) => {
      const headers = { 'x-forwarded-for': xff ?? undefined, forwarded: fwd ?? undefined, 'x-forwarded-proto': proto ?? undefined };
      const client = resolveClient(peer, headers, trusted, encrypted);
      if (client.address !== '' && (isIP(client.address) === 0 || normalizeIp(client.address) !== client.address)) return false;
      if (client.family !== isIP(client.address)) return false;
      const peerIp = normalizeIp(peer);
      if (peerIp !== '' && !trusted.has(peerIp)) return client.address === peerIp && client.https === encrypted;
      return true;
    }), RUNS);
  t.pass('held for every generated header set');
});

t.test('IP spelling: normalisation is idempotent, matches the URL parser, and the /64 key ignores the host part', async (t) => {
  fc.assert(fc.property(fc.ipV6(), (ip) => {
    const one = normalizeIp(ip);
    if (one === '' || normalizeIp(one) !== one) return false;
    if (isIP(one) === 6 && `[${one}]` !== new URL(`http://[${ip}]/`).hostname) return false;
    return true;
  }), RUNS);
  const group = fc.integer({ min: 0, max: 0xffff });
  const groups = fc.array(group, { minLength: 8, maxLength: 8 });
  /** One of the spellings of these groups: full with leading zeros, upper case, or compressed. */
  const spell = (g: number[], style: number) => {
    if (style === 0) return g.map((x) => x.toString(16).padStart(4, '0')).join(':');
    if (style === 1) return g.map((x) => x.toString(16).toUpperCase()).join(':');
    return new URL(`http://[${g.map((x) => x.toString(16)).join(':')}]/`).hostname.slice(1, -1);
  };
  fc.assert(fc.property(groups, groups, fc.nat(2), fc.nat(2), (a, b, s1, s2) => {
    fc.pre(a[0] !== 0 || a[1] !== 0); // not IPv4-mapped or -compatible space
    const sameNet = [...a.slice(0, 4), ...b.slice(4)];
    if (clientKey(normalizeIp(spell(a, s1)), 64) !== clientKey(normalizeIp(spell(sameNet, s2)), 64)) return false;
    const otherNet = [...a.slice(0, 3), (a[3] as number) ^ 1, ...a.slice(4)];
    return clientKey(normalizeIp(spell(a, s1)), 64) !== clientKey(normalizeIp(spell(otherNet, s2)), 64);
  }), RUNS);
  t.pass('held');
});

const validMirror = fc.record({
  name: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/),
  url: fc.webUrl({ withQueryParameters: false, withFragments: false }),
  weight: fc.oneof(fc.integer({ min: -5, max: 500 }), fc.double()),
  country: fc.oneof(fc.constantFrom('DE', 'US', 'JP', 'xx', 'ZZ'), fc.string({ maxLength: 3 })),
}, { requiredKeys: ['name', 'url'] });

t.test('the config loader: any JSON document gets a result, never an exception, and every problem names a path', async (t) => {
  const doc = fc.oneof(
    fc.jsonValue(),
    fc.record({ mirrors: fc.array(fc.oneof(validMirror, fc.jsonValue()), { maxLength: 4 }), rateLimit: fc.jsonValue(), http: fc.jsonValue(),
      trustProxy: fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }), admin: fc.jsonValue(), fallbackUrl: fc.string() }, { requiredKeys: [] }),
  );
  fc.assert(fc.property(doc, (value) => {
    const result = validateConfig(value, '/nowhere/mirrors.json');
    if (result.ok) return result.config.mirrors.every((m) => /^https?:\/\//.test(m.url) && m.weight > 0);
    return result.problems.length > 0 && result.problems.every((p) => typeof p.path === 'string' && p.path !== '' && typeof p.message === 'string')
      && formatProblems(result.problems).length > 0;
  }), { numRuns: 1500 });
  t.pass('held for every generated document');
});
