// Faults of our own (a failing database, no file descriptors left) and hostile mirrors (an endless
// timestamp file): probing goes on at its pace and blames no mirror for what is not its doing.
// Probing against real HTTP mirrors on 127.0.0.1 that the tests switch between behaviours.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { statement } from '../../src/db/open.js';
import { build, makeFixture, waitFor, writeConfig } from '../helper.js';
import { PROBE, setup } from './mirror-fixture.js';

t.test('a failing database write never speeds up probing, and what it could not write is written later', async (t) => {
  const { app, a } = await setup(t);
  const db = app.mirrorgate.db;
  db.exec("CREATE TRIGGER no_health BEFORE UPDATE ON mirror_health BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END");
  db.exec("CREATE TRIGGER no_health_insert BEFORE INSERT ON mirror_health BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END");
  db.exec("CREATE TRIGGER no_events BEFORE INSERT ON mirror_events BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END");
  const probesOf = () => a.log.filter((l) => l.startsWith('HEAD ')).length;
  const before = probesOf();
  const started = Date.now();
  t.ok(await waitFor(() => app.mirrorgate.prober.persistFailures >= 6, 20_000), 'writes fail');
  a.behaviour = { kind: 'status', status: 503 }; // a transition to record while the disk fails
  t.ok(await waitFor(() => app.mirrorgate.states.get('a').health.state === 'down', 20_000));
  const elapsed = (Date.now() - started) / 1000;
  const probes = probesOf() - before;
  // 1 s interval (±10%), and back-off once down: never the 250 ms tick.
  t.ok(probes <= Math.ceil(elapsed / 0.9) + 2, `${probes} probes of a in ${elapsed.toFixed(1)} s at a 1 s interval`);
  db.exec('DROP TRIGGER no_health; DROP TRIGGER no_health_insert; DROP TRIGGER no_events');
  const downs = () => (statement(db, "SELECT COUNT(*) AS n FROM mirror_events WHERE mirror = 'a' AND to_state = 'down'").get() as { n: number }).n;
  t.ok(await waitFor(() => downs() === 1, 20_000), 'the transition made while the disk failed is written once it works again');
  const stored = () => (statement(db, "SELECT state FROM mirror_health WHERE mirror = 'a'").get() as { state: string } | undefined)?.state;
  t.ok(await waitFor(() => stored() === 'down', 20_000), 'and its health row at its next round');
});

t.test('running out of file descriptors here pauses probing and blames no mirror', async (t) => {
  const { app, fixture, a, b, health } = await setup(t);
  const { spawn } = await import('node:child_process');
  const { openSync, closeSync, mkdirSync } = await import('node:fs');
  const [, soft = '1024', hard = '1024'] = /^Max open files\s+(\d+)\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8')) ?? [];
  // Lowering is easy; raising again needs a process, and spawning one needs descriptors. So a helper is
  // started first, and told to restore the limit by a directory appearing (mkdir needs no descriptor).
  const flag = join(fixture.dir, 'restore');
  const restorer = spawn('sh', ['-c', `while [ ! -d '${flag}' ]; do sleep 0.05; done; prlimit --pid ${process.pid} --nofile=${soft}:${hard}`], { stdio: 'ignore' });
  const restored = new Promise((resolve) => restorer.on('exit', resolve));
  t.teardown(() => { mkdirSync(flag, { recursive: true }); });
  const { execFileSync } = await import('node:child_process');
  const since = app.mirrorgate.states.get('a').health.since;
  const pausesBefore = app.mirrorgate.prober.pauses;
  // The real limit, lowered on this very process to what it holds now, and every descriptor that frees
  // up (a closed connection) taken at once: the prober's next socket fails with EMFILE, as it would
  // when a flood of connections has used them all.
  const held: number[] = [];
  const hog = () => {
    try {
      for (;;) held.push(openSync('/dev/null', 'r'));
    } catch { /* EMFILE: all taken */ }
  };
  held.push(openSync('/dev/null', 'r'));
  execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${(held[0] as number) + 1}:${hard}`]);
  const hogging = setInterval(hog, 2);
  a.dropConnections(); // no keep-alive socket to reuse: the next probe needs a new descriptor
  b.dropConnections();
  const paused = await waitFor(() => app.mirrorgate.prober.pauses > pausesBefore, 15_000);
  clearInterval(hogging);
  mkdirSync(flag);
  await restored;
  for (const fd of held) closeSync(fd);
  t.ok(paused, `probing paused: ${app.mirrorgate.prober.pausedBecause ?? 'no pause'}`);
  t.match(app.mirrorgate.prober.pausedBecause, /^(EMFILE|ENFILE)$/);
  t.equal(health('a').state, 'up', 'a is still up');
  t.equal(health('b').state, 'up', 'b is still up');
  t.equal(app.mirrorgate.states.get('a').health.since, since, 'no transition was recorded');
  const seen = a.log.length;
  t.ok(await waitFor(() => a.log.length > seen && app.mirrorgate.prober.pausedBecause === undefined, 15_000), 'probing resumes once descriptors are free again');
  t.equal(health('a').state, 'up');
});

t.test('an endless timestamp file is read no further than 4 KiB', async (t) => {
  const { createServer } = await import('node:http');
  let sent = 0;
  const endless = createServer((req, res) => {
    if (req.url !== '/TIMESTAMP') {
      res.writeHead(200, { 'content-length': '100' }).end(Buffer.alloc(100));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    const chunk = Buffer.alloc(65536, 0x31);
    const more = () => {
      let open = true;
      while (open && !res.destroyed) {
        sent += chunk.length;
        open = res.write(chunk);
      }
    };
    res.on('drain', more);
    more();
  });
  await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve));
  t.teardown(() => { endless.closeAllConnections(); endless.close(); });
  const url = `http://127.0.0.1:${(endless.address() as { port: number }).port}/`;
  const fixture = makeFixture(t);
  writeConfig(fixture.configPath, {
    mirrors: [{ name: 'endless', url, timestampFile: 'TIMESTAMP', probePath: 'README.txt' }],
    probe: { ...PROBE, timeoutMs: 3000 }, rateLimit: { enabled: false },
  });
  const { app } = await build(t, { fixture });
  const state = () => app.mirrorgate.states.get('endless');
  t.ok(await waitFor(() => state().rounds >= 3, 15_000), 'three probe rounds');
  t.equal(state().syncStamp, undefined, 'an oversized body is no timestamp');
  // What the kernel's socket buffers took before the read stopped, not the 943 MB of an unbounded read.
  t.ok(sent < 64 * 1024 * 1024, `${(sent / 1048576).toFixed(1)} MiB sent in three rounds`);
});
