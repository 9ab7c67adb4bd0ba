// The yardstick: a bare Fastify 5 server that redirects every GET to one fixed URL. Same Fastify, same
// Node, same machine: what mirrorgate's full pipeline is compared against.
//
// `node bare-fastify.js PORT floor` adds only what every mirrorgate redirect must carry, and nothing
// it computes: @fastify/rate-limit keyed on X-Forwarded-For with mirrorgate's options, and the three
// headers mirrorgate adds (Cache-Control, X-Mirrorgate-Mirror, X-Mirrorgate-Tier). The bench reports
// it as the floor: the ratio no redirect logic, however cheap, could beat inside Fastify.
// `floor-headers` adds the headers clients see (three Link alternates, the Metalink link, Repr-Digest and
// Digest), built per request but chosen by nothing: what those header lines cost Fastify and Node alone
// (bench/instructions.ts --bare).
import Fastify from 'fastify';
import rateLimit from '@fastify/rate-limit';

const port = Number(process.argv[2] ?? 0);
const floor = process.argv[3] === 'floor' || process.argv[3] === 'floor-headers';
const clientHeaders = process.argv[3] === 'floor-headers';
const DIGEST = 'q83vEjRWeJASNFZ4kBI0VniQEjRWeJASNFZ4kBI0Vng=';
const LOCATION = 'http://127.0.0.1:9/pool/main/0/pkg0/pkg0_1.0-1_amd64.deb';
const app = Fastify({ logger: false });
if (floor) {
  await app.register(rateLimit, {
    global: true,
    max: () => 1_000_000_000,
    timeWindow: 60_000,
    keyGenerator: (request) => String(request.headers['x-forwarded-for'] ?? request.ip),
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
  });
  app.get('/*', (request, reply) => {
    if (clientHeaders) {
      const path = request.url;
      reply.header('link', [2, 3, 4].map((pri) => `<http://127.0.0.${pri}:9${path}>; rel=duplicate; pri=${pri}; geo=de`)
        .concat(`<${path}.meta4>; rel=describedby; type="application/metalink4+xml"`))
        .header('repr-digest', `sha-256=:${DIGEST}:`).header('digest', `SHA-256=${DIGEST}`);
    }
    return reply.code(302)
    .header('location', LOCATION)
    .header('cache-control', 'private, no-store')
    .header('x-mirrorgate-mirror', 'm0-de')
    .header('x-mirrorgate-tier', 'country')
    .send();
  });
} else {
  app.get('/*', (_request, reply) => reply.redirect(LOCATION, 302));
}
const url = await app.listen({ host: '127.0.0.1', port });
process.stdout.write(`listening ${url}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
