import t from 'tap';
import { resolveClient } from '../../src/http/client-address.js';
import { TrustList } from '../../src/http/trust-list.js';

const trusted = new TrustList(['127.0.0.1/32', '::1/128', '10.0.0.0/8']);

const cases: [string, string, Record<string, string>, string, boolean?][] = [
  ['no proxy: the peer', '203.0.113.9', {}, '203.0.113.9'],
  ['untrusted peer: X-Forwarded-For ignored', '203.0.113.9', { 'x-forwarded-for': '1.2.3.4' }, '203.0.113.9'],
  ['trusted peer: the forwarded client', '127.0.0.1', { 'x-forwarded-for': '198.51.100.7' }, '198.51.100.7'],
  ['right-most untrusted hop wins over a forged left-most', '127.0.0.1', { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 10.1.2.3' }, '198.51.100.7'],
  ['garbage hop: stop at the last good one', '127.0.0.1', { 'x-forwarded-for': 'not-an-ip' }, '127.0.0.1'],
  ['garbage left of the client is not reached', '127.0.0.1', { 'x-forwarded-for': 'junk, 198.51.100.7' }, '198.51.100.7'],
  ['port on an IPv4 hop', '127.0.0.1', { 'x-forwarded-for': '198.51.100.7:4711' }, '198.51.100.7'],
  ['IPv6 hop', '::1', { 'x-forwarded-for': '2001:db8::7' }, '2001:db8::7'],
  ['IPv4-mapped IPv6 peer is unwrapped', '::ffff:127.0.0.1', { 'x-forwarded-for': '198.51.100.7' }, '198.51.100.7'],
  ['IPv4-mapped IPv6 untrusted peer', '::ffff:203.0.113.9', {}, '203.0.113.9'],
  ['Forwarded header', '127.0.0.1', { forwarded: 'for=198.51.100.7;proto=https' }, '198.51.100.7', true],
  ['Forwarded with quoted IPv6 and port', '127.0.0.1', { forwarded: 'for="[2001:db8:cafe::17]:4711"' }, '2001:db8:cafe::17'],
  ['Forwarded wins over X-Forwarded-For', '127.0.0.1', { forwarded: 'for=198.51.100.7', 'x-forwarded-for': '5.5.5.5' }, '198.51.100.7'],
  ['X-Forwarded-Proto from a trusted proxy', '127.0.0.1', { 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'https' }, '198.51.100.7', true],
  ['X-Forwarded-Proto from anyone else is ignored', '203.0.113.9', { 'x-forwarded-proto': 'https' }, '203.0.113.9', false],
  ['Forwarded proto: the last element (our proxy\'s), not a forged first one', '127.0.0.1',
    { forwarded: 'for=198.51.100.7;proto=https, for=198.51.100.8;proto=http' }, '198.51.100.8', false],
  ['Forwarded proto: https in the last element counts', '127.0.0.1',
    { forwarded: 'for=198.51.100.7;proto=http, for=198.51.100.8;proto=https' }, '198.51.100.8', true],
  ['X-Forwarded-Proto: the last value, not a forged first one', '127.0.0.1', { 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'https, http' }, '198.51.100.7', false],
  ['X-Forwarded-Proto: https as the last value counts', '127.0.0.1', { 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'http, https' }, '198.51.100.7', true],
  ['IPv6 spellings are one address', '::1', { 'x-forwarded-for': '2001:DB8:0:0::0:7' }, '2001:db8::7'],
  ['an IPv4-mapped IPv6 hop in hex is IPv4', '::1', { 'x-forwarded-for': '::ffff:c633:6407' }, '198.51.100.7'],
  ['all hops trusted: the left-most', '127.0.0.1', { 'x-forwarded-for': '10.0.0.1, 10.0.0.2' }, '10.0.0.1'],
];

for (const [what, peer, headers, address, https] of cases) {
  t.test(what, async (t) => {
    const client = resolveClient(peer, headers, trusted, false);
    t.equal(client.address, address);
    if (https !== undefined) t.equal(client.https, https);
  });
}

t.test('too many hops: the walk stops after 16', async (t) => {
  const hops = Array.from({ length: 40 }, (_, i) => `10.0.0.${i + 1}`);
  const client = resolveClient('127.0.0.1', { 'x-forwarded-for': ['198.51.100.7', ...hops].join(', ') }, trusted, false);
  t.equal(client.address, '10.0.0.25');
});

t.test('no socket address', async (t) => {
  t.match(resolveClient(undefined, {}, trusted, false), { address: '', family: 0 });
});
