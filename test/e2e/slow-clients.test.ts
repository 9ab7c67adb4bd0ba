// A slow-connection attack on the real server, started under the usual 1,024 open-file limit: one
// address opens 2,000 connections that send a POST body a byte every 5 s and 2,000 that send their
// headers a byte every 5 s. Clients from another address must keep getting redirects, no mirror may
// change state, and every attacking connection must be closed by the server.
import t, { type Test } from 'tap';
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { startMirrorServer } from '../../src/demo/mirror-server.js';
import { makeFixture, serveProcess, waitFor, waitForAsync, writeConfig } from '../helper.js';

const ATTACKER = '127.0.0.2';
const PER_KIND = 2000;
const HTTP = { headersTimeoutMs: 2000, requestTimeoutMs: 4000, keepAliveTimeoutMs: 2000, idleTimeoutMs: 10_000, maxConnectionsPerClient: 64 };

interface Attack {
  opened: number;
  closed: number;
  /** ms each connection lived, from connect to the server closing it. */
  lifetimes: number[];
}

function attack(port: number, kind: 'body' | 'headers', sockets: Set<Socket>, tally: Attack, from = ATTACKER): void {
  const started = Date.now();
  const socket = connect({ port, host: '127.0.0.1', localAddress: from });
  sockets.add(socket);
  socket.on('connect', () => {
    tally.opened += 1;
    socket.write(kind === 'body'
      ? 'POST /releases/1.0/big.iso HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n'
      : 'GET /releases/1.0/big.iso HTTP/1.1\r\nHost: x\r\n');
  });
  socket.on('data', () => undefined);
  socket.on('error', () => undefined);
  socket.on('close', () => {
    sockets.delete(socket);
    tally.closed += 1;
    tally.lifetimes.push(Date.now() - started);
  });
}

function get(port: number, path: string): Promise<{ status: number; location: string | undefined; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 30_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, ms: performance.now() - started }));
    });
    req.on('error', () => resolve({ status: 0, location: undefined, ms: performance.now() - started }));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

interface MirrorRow { name: string; state: string; since: string }

/**
 * The real server under a 1,024 fd limit with two real mirrors, once both are up: its port, the child
 * process, and the mirrors' rows as the operator endpoint shows them.
 */
async function attackTarget(t: Test, config: Record<string, unknown>) {
  const fixture = makeFixture(t);
  const mirrors = [await startMirrorServer(fixture.repository), await startMirrorServer(fixture.repository)];
  t.teardown(() => Promise.all(mirrors.map((m) => m.close())));
  writeConfig(fixture.configPath, {
    mirrors: mirrors.map((m, i) => ({ name: `m${i}`, url: m.url, probePath: 'README.txt' })),
    probe: { enabled: true, intervalSeconds: 1, timeoutMs: 1000, capacityEveryRounds: 0 },
    ...config,
  });
  const { child, port } = await serveProcess(t, fixture, ['prlimit', '--nofile=1024:1024']);
  const base = `http://127.0.0.1:${port}`;
  const mirrorRows = async () => (await (await fetch(`${base}/_mirrorgate/mirrors`)).json()) as MirrorRow[];
  t.ok(await waitForAsync(async () => (await mirrorRows()).every((r) => r.state === 'up'), 20_000, 200), 'both mirrors up');
  return { child, port, base, mirrors, mirrorRows };
}

t.test('4,000 slow connections from one address under a 1,024 fd limit', async (t) => {
  const { child, port, mirrors, mirrorRows } = await attackTarget(t, {
    http: HTTP,
    rateLimit: { max: 1_000_000 }, // the normal clients all come from 127.0.0.1
  });
  const before = await mirrorRows();

  const sockets = new Set<Socket>();
  const tally: Attack = { opened: 0, closed: 0, lifetimes: [] };
  // The attack: opened in bursts so the test process is not itself short of descriptors, then a byte
  // every 5 s on every connection still open.
  for (let i = 0; i < PER_KIND; i += 200) {
    for (let j = 0; j < 200; j++) {
      attack(port, 'body', sockets, tally);
      attack(port, 'headers', sockets, tally);
    }
    await new Promise((r) => setImmediate(r));
  }
  const drip = setInterval(() => {
    for (const s of sockets) if (s.writable) s.write('x');
  }, 5000);
  t.teardown(() => clearInterval(drip));

  // Normal clients, from 127.0.0.1, while the attack holds what it can.
  const answers: { status: number; location: string | undefined; ms: number }[] = [];
  const attackEnds = Date.now() + 8000;
  while (Date.now() < attackEnds) {
    answers.push(await get(port, '/releases/1.0/big.iso'));
    await new Promise((r) => setTimeout(r, 10));
  }
  const redirects = answers.filter((a) => a.status === 302 && mirrors.some((m) => a.location === `${m.url}releases/1.0/big.iso`));
  t.equal(redirects.length, answers.length, `every one of ${answers.length} normal requests redirected to a mirror`);
  t.comment(`normal clients during the attack: p50 ${percentile(answers.map((a) => a.ms), 0.5).toFixed(1)} ms, p99 ${percentile(answers.map((a) => a.ms), 0.99).toFixed(1)} ms`);

  // Every attacking connection is closed by the server; the test never closes one itself.
  const total = 2 * PER_KIND;
  t.ok(await waitFor(() => tally.closed === total, 60_000, 100), `all ${total} attacking connections closed (${tally.closed})`);
  clearInterval(drip);
  t.comment(`attack: ${tally.opened} connected; lifetimes p50 ${percentile(tally.lifetimes, 0.5)} ms, p99 ${percentile(tally.lifetimes, 0.99)} ms, ` +
    `max ${Math.max(...tally.lifetimes)} ms (headersTimeout ${HTTP.headersTimeoutMs} ms, requestTimeout ${HTTP.requestTimeoutMs} ms)`);

  const after = await mirrorRows();
  t.same(after.map((r) => [r.name, r.state, r.since]), before.map((r) => [r.name, r.state, r.since]), 'no mirror changed state');
  const metrics = await (await fetch(`http://127.0.0.1:${port}/_mirrorgate/metrics`)).text();
  t.match(metrics, /mirrorgate_probe_pauses_total 0/, 'probing never ran short of descriptors');
  t.match(metrics, /mirrorgate_connections_refused_total\{reason="per-client"\} [1-9]/, 'the per-client cap refused the excess');
  t.equal(child.exitCode, null, 'the server is still running');
});

t.test('2,000 slow connections from 40 addresses fill the server: the probes keep their descriptors', async (t) => {
  const { child, port, base, mirrorRows } = await attackTarget(t, { http: { ...HTTP, headersTimeoutMs: 4000 } });
  const before = await mirrorRows();
  const max = Number(/mirrorgate_connections_max (\d+)/.exec(await (await fetch(`${base}/_mirrorgate/metrics`)).text())?.[1]);
  t.ok(max > 0 && max < 1024, `the automatic cap under a 1,024 fd limit: ${max}`);

  // 50 from each address: under the per-client cap, so only the global one can stop them.
  const sockets = new Set<Socket>();
  const tally: Attack = { opened: 0, closed: 0, lifetimes: [] };
  for (let a = 0; a < 40; a++) {
    for (let i = 0; i < 50; i++) attack(port, 'headers', sockets, tally, `127.0.0.${10 + a}`);
    await new Promise((r) => setImmediate(r));
  }
  t.ok(await waitFor(() => tally.closed === 2000, 60_000, 100), `every connection closed by the server (${tally.closed} of 2000)`);
  const metrics = await (await fetch(`${base}/_mirrorgate/metrics`)).text();
  t.match(metrics, /mirrorgate_connections_refused_total\{reason="server-full"\} [1-9]/, 'the global cap refused the excess');
  t.match(metrics, /mirrorgate_probe_pauses_total 0/, 'probing never ran short of descriptors');
  const after = await mirrorRows();
  t.same(after.map((r) => [r.name, r.state, r.since]), before.map((r) => [r.name, r.state, r.since]), 'no mirror changed state');
  const res = await fetch(`${base}/releases/1.0/big.iso`, { redirect: 'manual' });
  t.equal(res.status, 302, 'and it redirects again');
  t.equal(child.exitCode, null, 'the server is still running');
});
