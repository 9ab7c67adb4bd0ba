import t from 'tap';
import { request, Agent } from 'node:http';
import { build, DEFAULT_MIRRORS, writeConfig } from '../helper.js';

/** GET over one kept-alive connection; resolves with the parsed JSON body. */
function getJson(agent: Agent, url: string, headers: Record<string, string>): Promise<{ client: { address: string } }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve(JSON.parse(body) as { client: { address: string } }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('a keep-alive connection asks about its proxy again after a reload changes trustProxy', async (t) => {
  // explain answers any client here: it is the probe of who the client is.
  const admin = { allow: ['0.0.0.0/0', '::/0'] };
  const { app, fixture } = await build(t, { config: { mirrors: DEFAULT_MIRRORS, trustProxy: ['127.0.0.1/32'], admin } });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const sockets = new Set<unknown>();
  app.server.on('connection', (s) => sockets.add(s));
  const explain = () => getJson(agent, `${url}/_mirrorgate/explain?path=releases/1.0/big.iso`, { 'x-forwarded-for': '198.51.100.9' });
  t.equal((await explain()).client.address, '198.51.100.9', 'the trusted proxy speaks for its client');
  t.equal((await explain()).client.address, '198.51.100.9', 'again, on the same connection');
  writeConfig(fixture.configPath, { mirrors: DEFAULT_MIRRORS, trustProxy: [], admin });
  t.ok((await app.mirrorgate.reload()).ok);
  t.equal((await explain()).client.address, '127.0.0.1', 'no longer trusted: the peer is the client');
  t.equal(sockets.size, 1, 'all over one connection');
});
