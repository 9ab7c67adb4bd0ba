// The yardstick: a bare Fastify 5 server that redirects every GET to one fixed URL. Same Fastify, same
// Node, same machine: what mirrorgate's full pipeline is compared against.
import Fastify from 'fastify';

const port = Number(process.argv[2] ?? 0);
const app = Fastify({ logger: false });
app.get('/*', (_request, reply) => reply.redirect('http://127.0.0.1:9/fixed.iso', 302));
const url = await app.listen({ host: '127.0.0.1', port });
process.stdout.write(`listening ${url}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
