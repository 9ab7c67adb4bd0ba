// Three mirrorgate instances, separate processes with separate SQLite files and repository copies on
// 127.0.0.11-13, share one real redis-server and three loopback mirrors (issue 13). Measured times are
// printed as comments; the assertions wait for conditions with generous deadlines.
import t, { type Test } from 'tap';
import { startMirrorServer, type MirrorServer } from '../../src/demo/mirror-server.js';
import { preferredProber } from '../../src/sharing/members.js';
import { waitForAsync, writeFiles, type Fixture } from '../helper.js';
import {
  FILES, MTIME, clusterOf, download, getJson, hostFixture, mirrorsOf, startInstance, startRedis, statsOf, tally, type Instance, type RedisServer,
} from './cluster-fixture.js';

const ADDRESSES = ['127.0.0.11', '127.0.0.12', '127.0.0.13'];
/** The repository's files, and one added during the test. */
const SIZES: Record<string, number> = { ...FILES, 'releases/new.iso': 3 * 1024 * 1024 };
const PROBE = { enabled: true, intervalSeconds: 1, timeoutMs: 500, failuresToDown: 2, successesToUp: 1, maxBackoffSeconds: 2, capacityEveryRounds: 0 };

async function network(t: Test, keyPrefix: string) {
  const redis = await startRedis(t);
  const first = hostFixture(t, {});
  const servers: MirrorServer[] = [];
  for (let i = 0; i < 3; i++) servers.push(await startMirrorServer(first.repository));
  t.teardown(() => Promise.all(servers.map((s) => s.close())));
  const [a, b, slow] = servers as [MirrorServer, MirrorServer, MirrorServer];
  const config = {
    mirrors: [
      { name: 'a', url: a.url, probePath: 'probe.txt' },
      { name: 'b', url: b.url, probePath: 'probe.txt' },
      // A mirror declaring little bandwidth: its utilisation climbs fast, so whose bytes count shows.
      { name: 'slow', url: slow.url, probePath: 'probe.txt', bandwidthMbps: 50 },
    ],
    probe: PROBE,
    freshness: { firstRequestWaitMs: 0 },
    rateLimit: { enabled: false },
    capacity: { windowSeconds: 3600 },
    catalog: { rescanSeconds: 0, watch: false },
    cluster: { redis: redis.url, keyPrefix, leaseSeconds: 3, fallbackSeconds: 2 },
  };
  const fixtures = [first, hostFixture(t, config), hostFixture(t, config)];
  // The first host's config too: every host's file holds the same bytes.
  const { writeConfig } = await import('../helper.js');
  writeConfig(first.configPath, config);
  const instances: Instance[] = [];
  for (let i = 0; i < 3; i++) instances.push(await startInstance(t, `h${i + 1}`, ADDRESSES[i] as string, fixtures[i] as Fixture));
  return { redis, instances, a, b, slow, servers, config };
}

async function allUp(instances: Instance[], names: string[], timeoutMs = 30_000): Promise<boolean> {
  return waitForAsync(async () => {
    for (const i of instances) {
      const rows = await mirrorsOf(i);
      if (!names.every((n) => rows.find((r) => r.name === n)?.state === 'up')) return false;
    }
    return true;
  }, timeoutMs, 100);
}

async function leasesByInstance(instances: Instance[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const i of instances) out.set(i.name, (await clusterOf(i)).leases);
  return out;
}

const probesOf = (server: MirrorServer) => server.log.filter((line) => line === 'HEAD /probe.txt').length;

t.test('three instances share probing, load and totals through redis', async (t) => {
  const { instances, a, b, slow, servers, redis } = await network(t, 'share:');
  // Every download any instance answers, by instance and target, and the bytes sent to each target.
  const sent = new Map<string, number>();
  const answered = new Map<string, Map<string, number>>(instances.map((i) => [i.name, new Map()]));
  const get = async (instance: Instance, path: string) => {
    const answer = await download(instance, path);
    tally(sent, answer.mirror, SIZES[path] as number);
    tally(answered.get(instance.name) as Map<string, number>, answer.mirror);
    return answer;
  };
  t.ok(await waitForAsync(async () => {
    for (const i of instances) if ((await clusterOf(i)).instances !== 3) return false;
    return true;
  }, 30_000, 100), 'every instance sees the three');
  t.ok(await allUp(instances, ['a', 'b', 'slow']), 'every instance has every mirror up');

  // Each mirror's lease is held by exactly one instance.
  t.ok(await waitForAsync(async () => {
    const held = [...(await leasesByInstance(instances)).values()].flat().sort();
    return JSON.stringify(held) === JSON.stringify(['a', 'b', 'slow']);
  }, 30_000, 100), 'each mirror has exactly one prober');
  // Instances that started later get their share once membership settles: each lease ends up with the
  // instance rendezvous hashing prefers (with three mirrors that is sometimes one instance for all).
  let preferred: Record<string, string> = {};
  t.ok(await waitForAsync(async () => {
    const members = (await clusterOf(instances[0] as Instance)).members;
    const probers = members.filter((m) => m.role !== 'worker').map((m) => m.process);
    const byProcess = new Map(members.map((m) => [m.process, m.name]));
    preferred = Object.fromEntries(['a', 'b', 'slow'].map((m) => [m, byProcess.get(preferredProber(m, probers) ?? '') ?? '?']));
    const leases = await leasesByInstance(instances);
    return probers.length === 3 && Object.entries(preferred).every(([mirror, name]) => leases.get(name)?.includes(mirror));
  }, 30_000, 100), 'each lease is held by the instance rendezvous hashing prefers');
  t.comment(`preferred: ${JSON.stringify(preferred)}`);
  t.comment(`leases: ${JSON.stringify(Object.fromEntries(await leasesByInstance(instances)))}`);

  // Probes over a stretch of time: about one per interval per mirror in all, not one per instance.
  for (const s of servers) s.log.length = 0;
  const started = Date.now();
  t.ok(await waitForAsync(async () => probesOf(a) >= 8, 60_000, 100), 'a is probed');
  const seconds = (Date.now() - started) / 1000;
  for (const [name, server] of [['a', a], ['b', b], ['slow', slow]] as const) {
    const n = probesOf(server);
    t.comment(`${name}: ${n} probe HEADs in ${seconds.toFixed(1)} s (interval 1 s; 3 instances probing alone would make about ${Math.round(3 * seconds)})`);
    // One prober: never more than one per interval, plus the round in flight at each end.
    t.ok(n <= Math.ceil(seconds) + 2, `${name} probed at most once per interval across the cluster (${n} in ${seconds.toFixed(1)} s)`);
  }

  // A mirror taken down is excluded by all three.
  const downAt = Date.now();
  await b.stop();
  const excluded = await waitForAsync(async () => {
    for (const i of instances) if ((await mirrorsOf(i)).find((r) => r.name === 'b')?.state !== 'down') return false;
    return true;
  }, 20_000, 50);
  t.ok(excluded, 'b is down on every instance');
  t.comment(`b down on all three ${Date.now() - downAt} ms after it stopped`);
  for (let n = 0; n < 30; n++) {
    const instance = instances[n % 3] as Instance;
    const answer = await get(instance, 'releases/other.iso');
    if (answer.mirror === 'b') t.fail(`${instance.name} sent a download to b, which is down`);
  }
  await b.start();
  t.ok(await allUp(instances, ['b']), 'b is back up on every instance');

  // Evidence is shared: h1's first requests get every mirror's copy checked; h2 and h3 then redirect
  // on that evidence without checking anything themselves.
  const first = instances[0] as Instance;
  const paths = ['releases/big.iso', 'releases/other.iso'];
  t.ok(await waitForAsync(async () => {
    for (const path of paths) {
      await get(first, path);
      const rows = (await getJson<{ evidence: { mirror: string; evidence: string }[] }>(`${first.base()}/_mirrorgate/explain?path=${path}`)).evidence;
      if (!rows.every((r) => r.evidence === 'fresh')) return false;
    }
    return true;
  }, 30_000, 100), 'h1 had every mirror\'s copy of both files checked');
  const checksOf = (server: MirrorServer) => server.log.filter((line) => line.startsWith('GET /releases/')).length;
  const checkGets = servers.map(checksOf);
  for (const i of instances.slice(1)) {
    t.ok(await waitForAsync(async () => {
      const rows = (await getJson<{ evidence: { evidence: string }[] }>(`${i.base()}/_mirrorgate/explain?path=releases/big.iso`)).evidence;
      return rows.every((r) => r.evidence === 'fresh');
    }, 20_000, 100), `${i.name} has h1's evidence`);
    for (const path of paths) t.equal((await get(i, path)).status, 302, `${i.name} redirects ${path} at once`);
  }
  t.same(servers.map(checksOf), checkGets, `h2 and h3 checked nothing themselves (range GETs per mirror: ${checkGets.join(', ')})`);

  // A new file asked for on all three at once: each mirror's copy is checked once in the cluster. Counted
  // as checks that reached a verdict, summed over the instances: a check that timed out on a busy machine
  // (timeoutMs 500 here) has none, and is rightly tried again once its claim expires.
  const verdicts = async () => {
    let sum = 0;
    for (const i of instances) {
      const text = await (await fetch(`${i.base()}/_mirrorgate/metrics`)).text();
      for (const m of text.matchAll(/^mirrorgate_content_checks_total\{[^}]*\} (\d+)$/gm)) sum += Number(m[1]);
    }
    return sum;
  };
  const verdictsBefore = await verdicts();
  const fresh = 'releases/new.iso';
  for (const i of instances) writeFiles(i.fixture.repository, { [fresh]: SIZES[fresh] as number }, MTIME);
  for (const i of instances) i.process.child.kill('SIGHUP'); // rescan (the tests' config does not watch)
  t.ok(await waitForAsync(async () => {
    for (const i of instances) if ((await fetch(`${i.base()}/_mirrorgate/explain?path=${fresh}`)).status !== 200) return false;
    return true;
  }, 20_000, 100), 'every instance has the new file');
  const freshGets = (server: MirrorServer) => server.log.filter((line) => line === `GET /${fresh}`).length;
  await Promise.all(instances.map((i) => get(i, fresh)));
  t.ok(await waitForAsync(async () => {
    for (const i of instances) {
      await get(i, fresh);
      const rows = (await getJson<{ evidence: { evidence: string }[] }>(`${i.base()}/_mirrorgate/explain?path=${fresh}`)).evidence;
      if (!rows.every((r) => r.evidence === 'fresh')) return false;
    }
    return true;
  }, 30_000, 100), 'all three know every mirror holds it');
  const perCheck = checkGets[0] as number / 2; // the ranges of one check of a large file (two files above)
  t.equal(await verdicts() - verdictsBefore, servers.length, `one check per mirror across the cluster (${servers.map(freshGets).join(', ')} range GETs; one check is ${perCheck})`);
  t.ok(servers.every((s) => freshGets(s) >= perCheck), 'each mirror\'s copy was checked');

  // Load: every instance's utilisation of each mirror counts the bytes all three redirected there.
  for (let n = 0; n < 60; n++) {
    const instance = instances[n % 3] as Instance;
    const path = n % 2 === 0 ? 'releases/big.iso' : 'releases/other.iso';
    const answer = await get(instance, path);
    if (answer.status !== 302) t.fail(`${instance.name} answered ${path} with ${answer.status}, not a redirect`);
  }
  t.ok(sent.get('slow') !== undefined, 'the slow mirror got some of it');
  const expected = (row: { name: string; effectiveMbps: number }) => ((sent.get(row.name) ?? 0) * 8) / (row.effectiveMbps * 1e6 * 3600);
  t.ok(await waitForAsync(async () => {
    for (const i of instances) {
      for (const row of await mirrorsOf(i)) {
        const want = expected(row);
        if (Math.abs(row.utilisation - want) > want * 0.001 + 1e-12) return false;
      }
    }
    return true;
  }, 20_000, 100), 'every instance\'s utilisation counts all three instances\' bytes');
  const slowRows = await Promise.all(instances.map(async (i) => (await mirrorsOf(i)).find((r) => r.name === 'slow')?.utilisation ?? 0));
  t.comment(`slow's utilisation on h1, h2, h3: ${slowRows.map((u) => u.toFixed(6)).join(', ')} (expected ${expected({ name: 'slow', effectiveMbps: 50 }).toFixed(6)})`);

  // Counters: each instance's SQLite has what it answered; the cluster totals are the sum.
  const total = new Map<string, number>();
  for (const mine of answered.values()) for (const [target, n] of mine) tally(total, target, n);
  for (const i of instances) {
    const want = answered.get(i.name) ?? new Map();
    t.ok(await waitForAsync(async () => sameCounts(await statsOf(['--db', i.fixture.dbPath, '--config', i.fixture.configPath]), want), 20_000, 200),
      `${i.name}'s own SQLite counters are what it answered`);
  }
  t.ok(await waitForAsync(async () => sameCounts(await statsOf(['--cluster', '--config', first.fixture.configPath]), total), 20_000, 200),
    'the cluster totals in redis are the sum of what the three answered');

  // Config drift: one host edits its mirrors.json; the others see it.
  const { writeFileSync, readFileSync } = await import('node:fs');
  const third = instances[2] as Instance;
  writeFileSync(third.fixture.configPath, `${readFileSync(third.fixture.configPath, 'utf8')}\n`);
  t.ok(await waitForAsync(async () => (await clusterOf(first)).configDrift, 20_000, 100), 'h1 reports config drift');
  const metrics = await (await fetch(`${first.base()}/_mirrorgate/metrics`)).text();
  t.match(metrics, /mirrorgate_cluster_config_drift\{mirrorgate_instance="h1"\} 1/, 'and so do its metrics, labelled with the instance');
  const page = await (await fetch(`${first.base()}/_mirrorgate/`)).text();
  t.match(page, /different mirrors\.json/, 'and its dashboard');
  writeFileSync(third.fixture.configPath, readFileSync(first.fixture.configPath));
  t.ok(await waitForAsync(async () => !(await clusterOf(first)).configDrift, 20_000, 100), 'drift over once the file is the same again');

  // The holder of a lease is killed: another instance takes over probing that mirror.
  const leases = await leasesByInstance(instances);
  const holder = instances.find((i) => leases.get(i.name)?.includes('slow')) as Instance;
  const others = instances.filter((i) => i !== holder);
  const killedAt = Date.now();
  holder.process.child.kill('SIGKILL');
  let takenAt = 0;
  t.ok(await waitForAsync(async () => {
    for (const i of others) {
      if ((await clusterOf(i)).leases.includes('slow')) {
        takenAt = Date.now();
        return true;
      }
    }
    return false;
  }, 30_000, 50), `another instance took slow's lease after ${holder.name} was killed`);
  slow.log.length = 0;
  t.ok(await waitForAsync(async () => probesOf(slow) >= 2, 20_000, 50), 'and probes it');
  t.comment(`slow's lease taken over ${takenAt - killedAt} ms after its holder was SIGKILLed (leaseSeconds 3)`);
  void redis;
});

function sum(answered: Map<string, Map<string, number>>, target: string): number {
  return [...answered.values()].reduce((n, m) => n + (m.get(target) ?? 0), 0);
}

function sameCounts(got: Map<string, number>, want: Map<string, number>): boolean {
  const keys = new Set([...got.keys(), ...want.keys()]);
  for (const k of keys) if ((got.get(k) ?? 0) !== (want.get(k) ?? 0)) return false;
  return true;
}

t.test('redis killed under load: no 5xx, no redirect to a mirror known down, fall back, rejoin, exact counts', async (t) => {
  const { instances, a, redis } = await network(t, 'outage:');
  t.ok(await allUp(instances, ['a', 'b', 'slow']), 'every instance has every mirror up');
  t.ok(await waitForAsync(async () => {
    const held = [...(await leasesByInstance(instances)).values()].flat();
    return held.length === 3;
  }, 20_000, 100), 'the leases are held');

  // Every download answered, by instance and target (warm-up included: the counts must match them all).
  const answered = new Map<string, Map<string, number>>(instances.map((i) => [i.name, new Map()]));
  // Every mirror verified for both files on every instance first, so a is in use when it goes down.
  for (const i of instances) {
    t.ok(await waitForAsync(async () => {
      for (const path of ['releases/big.iso', 'releases/other.iso']) {
        tally(answered.get(i.name) as Map<string, number>, (await download(i, path)).mirror);
        const rows = (await getJson<{ evidence: { evidence: string }[] }>(`${i.base()}/_mirrorgate/explain?path=${path}`)).evidence;
        if (!rows.every((r) => r.evidence === 'fresh')) return false;
      }
      return true;
    }, 30_000, 100), `${i.name} has every mirror verified`);
  }

  // Load from three clients at once, for as long as the test runs.
  const statuses = new Map<number, number>();
  /** When each instance was seen excluding a (after a went down), by instance name. */
  const excludedAt = new Map<string, number>();
  const lateToA: string[] = [];
  let stop = false;
  let requests = 0;
  const loaders = instances.map(async (instance) => {
    while (!stop) {
      const started = Date.now();
      // Many clients (a proxy's X-Forwarded-For): selection spreads them over every mirror.
      const n = requests++;
      const answer = await download(instance, n % 2 === 0 ? 'releases/big.iso' : 'releases/other.iso', `10.${(n >> 8) & 255}.${n & 255}.1`);
      tally(statuses as unknown as Map<string, number>, answer.status as unknown as string);
      tally(answered.get(instance.name) as Map<string, number>, answer.mirror);
      const known = excludedAt.get(instance.name);
      if (answer.mirror === 'a' && known !== undefined && started > known) lateToA.push(`${instance.name} at ${started}`);
    }
  });

  const killedAt = Date.now();
  await redis.kill();
  const fellBack = await waitForAsync(async () => {
    for (const i of instances) if ((await clusterOf(i)).connected) return false;
    return true;
  }, 30_000, 50);
  t.ok(fellBack, 'every instance fell back');
  t.comment(`fell back ${Date.now() - killedAt} ms after redis was SIGKILLed (fallbackSeconds 2)`);

  // A mirror goes down while Redis is away: each instance finds it on its own.
  const downAt = Date.now();
  await a.stop();
  t.ok(await waitForAsync(async () => {
    for (const i of instances) {
      if (!excludedAt.has(i.name) && (await mirrorsOf(i)).find((r) => r.name === 'a')?.state === 'down') excludedAt.set(i.name, Date.now());
    }
    return excludedAt.size === 3;
  }, 30_000, 50), 'every instance excluded a without redis');
  t.comment(`a excluded by all three ${Math.max(...excludedAt.values()) - downAt} ms after it stopped`);

  const restartedAt = Date.now();
  await redis.start();
  t.ok(await waitForAsync(async () => {
    for (const i of instances) {
      const c = await clusterOf(i);
      if (!c.connected || c.rejoins < 1) return false;
    }
    const held = [...(await leasesByInstance(instances)).values()].flat();
    return held.length === 3;
  }, 30_000, 50), 'every instance rejoined and the leases are held again');
  t.comment(`rejoined ${Date.now() - restartedAt} ms after redis restarted`);
  // Some more load after the rejoin, then stop.
  const before = requests;
  t.ok(await waitForAsync(async () => requests >= before + 30, 60_000, 50), 'requests go on');
  stop = true;
  await Promise.all(loaders);

  t.same([...statuses.keys()].filter((s) => s >= 500), [], `no 5xx in ${requests} requests (${JSON.stringify(Object.fromEntries(statuses))})`);
  t.ok(sum(answered, 'a') > 0, `a served downloads before it went down (${sum(answered, 'a')})`);
  t.same(lateToA, [], 'no instance sent a download to a after it had found a down');
  const total = new Map<string, number>();
  for (const i of instances) {
    const mine = answered.get(i.name) as Map<string, number>;
    for (const [target, n] of mine) tally(total, target, n);
    t.ok(await waitForAsync(async () => sameCounts(await statsOf(['--db', i.fixture.dbPath, '--config', i.fixture.configPath]), mine), 20_000, 200),
      `${i.name}'s SQLite counters are exactly what it answered`);
  }
  let cluster = new Map<string, number>();
  const first = instances[0] as Instance;
  const exact = await waitForAsync(async () => {
    cluster = await statsOf(['--cluster', '--config', first.fixture.configPath]);
    return sameCounts(cluster, total);
  }, 20_000, 200);
  t.ok(exact, `the cluster totals are the sum of what was answered, buffered counts added once (got ${JSON.stringify(Object.fromEntries(cluster))}, answered ${JSON.stringify(Object.fromEntries(total))})`);
});
