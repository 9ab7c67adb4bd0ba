// npm run bench [-- --files N --seconds S --rounds R --connections C --quick --tool wrk|autocannon --out FILE --work DIR
//                   --watch-files N --churn-only --cluster-only]
//
// Starts mirrorgate with its full pipeline (generated catalog, 50 mirrors over five continents,
// locality, probing against loopback stub mirrors, counters, rate limiting) and a bare Fastify redirect
// server, loads them alternately from a separate process (wrk, or autocannon), and prints req/s,
// p50/p99 latency and server CPU µs per request side by side with the ratios. Then the extras: the floor
// (bare Fastify with only the rate limiter and the headers), Link and digest headers on vs off, the access
// log on vs off, Redis sharing on vs off and the rate limit in Redis (with a local redis-server), counters (and download statistics) on vs off, probing 500 mirrors vs not, --workers 2,
// catalog figures (scan, restart, memory), the churn figures (bench/lib/churn.ts: cold start,
// content-check cost, the watcher at --watch-files files) and the dashboard at 500 mirrors and 400 days
// (bench/dashboard.ts). First, what counting one download costs (bench/downloads.ts).
// Results go to bench/results/latest.json.
import { mkdirSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PACKAGE_ROOT } from '../src/paths.js';
import { startMirrorServer, type MirrorServer } from '../src/demo/mirror-server.js';
import { fakeHashes, generateRepository, mirrorsFor, pipelineConfig, writeLoadInputs } from './lib/fixtures.js';
import { cpuMicros, firstProbeRound, firstRedirect, rssBytes, startProcess, type Server } from './lib/processes.js';
import { hasWrk, loadWith, type LoadResult } from './lib/load.js';
import { checkCost, coldStart, watchCost } from './lib/churn.js';
import { startBenchRedis } from './lib/redis.js';

const exec = promisify(execFile);
const { values: args } = parseArgs({
  options: {
    files: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '64' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    tool: { type: 'string' },
    work: { type: 'string' },
    'watch-files': { type: 'string' },
    'churn-only': { type: 'boolean', default: false },
    'cluster-only': { type: 'boolean', default: false },
  },
});
const FILES = Number(args.files);
const SECONDS = Number(args.seconds);
const ROUNDS = args.quick ? 1 : Math.max(3, Number(args.rounds));
const CONNECTIONS = Number(args.connections);
const BIN = join(PACKAGE_ROOT, 'dist/src/cli/bin.js');
const WORK = args.work ?? join(PACKAGE_ROOT, 'bench/.work');
const OUT = args.out ?? join(PACKAGE_ROOT, 'bench/results/latest.json');
const LISTENING = /Server listening at (http:\/\/[\d.:]+)/;
/** The commands mirrorgate sends Redis itself (INFO commandstats names); the rest run inside its scripts. */
const SENT_COMMANDS = ['evalsha', 'eval', 'hset', 'hgetall', 'hdel', 'publish', 'set', 'script|load'];

interface Measured extends LoadResult {
  readonly cpuUsPerRequest: number;
}

/** A ⇄ B: the median rounds and their ratios, every round, and each side's best round. */
interface Comparison {
  readonly a: Measured;
  readonly b: Measured;
  readonly rounds: { readonly a: Measured[]; readonly b: Measured[] };
  readonly rpsRatio: number;
  readonly p99Ratio: number;
  readonly cpuRatio: number;
  readonly best: { rpsA: number; rpsB: number; rpsRatio: number; cpuA: number; cpuB: number; cpuRatio: number };
}

/** The churn figures: cold start, what content checks cost, the watcher at scale. */
async function churn(results: Record<string, unknown>): Promise<void> {
  const cold = await coldStart(BIN, WORK);
  results.coldStart = cold;
  console.log(`\ncold start: ${cold.clients} clients at once, ${cold.files} new 4 GiB files, ${cold.mirrors} mirrors`);
  console.log(`  ${cold.redirects} redirected, ${cold.servedLocally} served by the repository: ${(cold.repositoryByteShare * 100).toFixed(2)}% of the bytes`);
  console.log(`  latency cold p50 ${cold.cold.p50Ms.toFixed(1)} ms, p99 ${cold.cold.p99Ms.toFixed(1)} ms; warm p50 ${cold.warm.p50Ms.toFixed(1)} ms, p99 ${cold.warm.p99Ms.toFixed(1)} ms`);
  console.log(`  added by the first-request wait: p50 ${cold.addedByWait.p50Ms.toFixed(1)} ms, p99 ${cold.addedByWait.p99Ms.toFixed(1)} ms; check bytes per mirror ${cold.checkBytesPerMirror.toFixed(0)}`);
  const cost = checkCost(100_000);
  results.checkCost = cost;
  console.log(`content checks at ${cost.files} files (${cost.sampledFiles} sampled, ${cost.wholeFiles} hashed whole): at most `
    + `${(cost.bytesPerHourPerMirror / 2 ** 20).toFixed(0)} MiB per mirror per hour (old files), ${(cost.youngBytesPerHourPerMirror / 2 ** 30).toFixed(1)} GiB if every file were young; budget ${(cost.budgetBytesPerHour / 2 ** 30).toFixed(0)} GiB/h`);
  const watchFiles = Number(args['watch-files'] ?? FILES);
  const watch = await watchCost(BIN, WORK, watchFiles);
  results.watch = watch;
  console.log(`watcher at ${watch.files} files: ${watch.directories} directories watched in ${watch.setupMs} ms; RSS ${(watch.rssWatchBytes / 2 ** 20).toFixed(0)} MiB `
    + `with the watch, ${(watch.rssNoWatchBytes / 2 ** 20).toFixed(0)} MiB without; change to catalog p50 ${watch.changeToCatalogMs.p50.toFixed(0)} ms, `
    + `p99 ${watch.changeToCatalogMs.p99.toFixed(0)} ms, max ${watch.changeToCatalogMs.max.toFixed(0)} ms`);
}

async function main(): Promise<void> {
  mkdirSync(WORK, { recursive: true });
  if (args['churn-only']) {
    const results: Record<string, unknown> = {};
    await churn(results);
    writeOut(results);
    return;
  }
  // Counting a download on the redirect path: nanoseconds and bytes allocated per call (bench/downloads.ts).
  const counting = (await exec(process.execPath, [join(PACKAGE_ROOT, 'dist/bench/downloads.js')])).stdout.trim();
  console.log(counting);
  const countingResult = { line: counting };
  const tool = args.tool === 'autocannon' || args.tool === 'wrk' ? args.tool : (await hasWrk()) ? 'wrk' : 'autocannon';
  // Servers on core 0 and wrk on core 1 when the machine allows: a steadier comparison.
  const pin = cpus().length >= 2 && tool === 'wrk' && (await exec('taskset', ['-c', '0', 'true']).then(() => true, () => false));
  const serverCpu = pin ? 0 : undefined;
  console.log(`mirrorgate bench: ${FILES} files, ${SECONDS}s × ${ROUNDS} rounds, ${CONNECTIONS} connections, load by ${tool}, ${cpus().length} cores${pin ? ', servers pinned to core 0 and the load to core 1' : ''}`);
  const repository = join(WORK, `repo-${FILES}`);
  const generated = Date.now();
  const paths = generateRepository(repository, FILES);
  console.log(`repository ready in ${((Date.now() - generated) / 1000).toFixed(1)} s`);
  const { pathsFile, ipsFile } = writeLoadInputs(WORK, repository, paths);
  const load = (url: string, seconds = SECONDS) => loadWith(tool, url, { seconds, connections: CONNECTIONS, pathsFile, ipsFile, cpu: pin ? 1 : undefined });

  const stubs: MirrorServer[] = [];
  // 500 for the probing comparison; the quick smoke run needs only the 50 of the main pipeline.
  for (let i = 0; i < (args.quick ? 50 : 500); i++) stubs.push(await startMirrorServer(repository));
  const stubUrls = stubs.map((s) => s.url);
  const servers: Server[] = [];
  const results: Record<string, unknown> = { downloadCounting: countingResult };
  try {
    const config = (name: string, mirrors: number, extra: Record<string, unknown> = {}) => {
      const file = join(WORK, `${name}.json`);
      writeFileSync(file, JSON.stringify(pipelineConfig(repository, stubUrls.slice(0, mirrors), extra)));
      return file;
    };
    const db = (name: string) => join(WORK, `${name}-${FILES}.db`);
    const fresh = (name: string) => rmSync(db(name), { force: true });

    // The catalog: a full scan into an empty database, timed.
    fresh('full');
    const scanStarted = Date.now();
    await exec(process.execPath, [BIN, 'scan', '--config', config('full', 50), '--db', db('full')], { maxBuffer: 1 << 24 });
    const scanSeconds = (Date.now() - scanStarted) / 1000;
    // Every file "hashed" (the bench's sparse files are not worth reading): each redirect then carries
    // Repr-Digest and Digest as well as its Link headers, as in production once the hasher has run.
    fakeHashes(db('full'));

    const start = async (name: string, configFile: string, extra: string[] = []) => {
      const started = Date.now();
      const cpu = extra.includes('--workers') ? undefined : serverCpu; // workers get every core
      const server = await startProcess(name, [BIN, 'serve', '--config', configFile, '--db', db(name), '--port', '0', '--log-level', 'info', ...extra], LISTENING, cpu);
      servers.push(server);
      return { server, startMs: Date.now() - started };
    };
    const main = await start('full', config('full', 50));
    const bare = await startProcess('bare', [join(PACKAGE_ROOT, 'dist/bench/bare-fastify.js')], /listening (http:\/\/[\d.:]+)/, serverCpu);
    servers.push(bare);
    await firstRedirect(main.server.url, paths[0] as string);
    await firstProbeRound(main.server.url, args.quick ? 0 : 5000);

    const compare = async (label: string, a: Server, b: Server): Promise<Comparison> => {
      await load(a.url, Math.min(2, SECONDS));
      await load(b.url, Math.min(2, SECONDS));
      const ra: Measured[] = [];
      const rb: Measured[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        ra.push(await measure(a, load));
        rb.push(await measure(b, load));
      }
      const ma = median(ra);
      const mb = median(rb);
      // Interference from other tenants of the machine only ever slows a round down: each server's best
      // round is the steadier estimate of what it costs, and its ratio the steadier comparison.
      const rpsA = Math.max(...ra.map((m) => m.rps));
      const rpsB = Math.max(...rb.map((m) => m.rps));
      const cpuA = Math.min(...ra.map((m) => m.cpuUsPerRequest));
      const cpuB = Math.min(...rb.map((m) => m.cpuUsPerRequest));
      const out: Comparison = {
        a: ma, b: mb, rounds: { a: ra, b: rb },
        rpsRatio: ma.rps / mb.rps, p99Ratio: ma.p99Ms / mb.p99Ms, cpuRatio: ma.cpuUsPerRequest / mb.cpuUsPerRequest,
        best: { rpsA, rpsB, rpsRatio: rpsA / rpsB, cpuA, cpuB, cpuRatio: cpuA / cpuB },
      };
      console.log(`\n${label}`);
      console.log(row(['', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'errors']));
      console.log(row([a.name, ma.rps.toFixed(0), ma.p50Ms.toFixed(2), ma.p99Ms.toFixed(2), ma.cpuUsPerRequest.toFixed(1), String(ma.errors)]));
      console.log(row([b.name, mb.rps.toFixed(0), mb.p50Ms.toFixed(2), mb.p99Ms.toFixed(2), mb.cpuUsPerRequest.toFixed(1), String(mb.errors)]));
      console.log(row(['ratio', out.rpsRatio.toFixed(3), (ma.p50Ms / mb.p50Ms).toFixed(2), out.p99Ratio.toFixed(2), out.cpuRatio.toFixed(2), '']));
      console.log(row(['best rounds', out.best.rpsRatio.toFixed(3), '', '', out.best.cpuRatio.toFixed(2), '']));
      return out;
    };

    const twin = async (name: string, extra: Record<string, unknown>) => {
      fresh(name);
      await exec(process.execPath, [BIN, 'scan', '--config', config(name, 50, extra), '--db', db(name)], { maxBuffer: 1 << 24 });
      fakeHashes(db(name));
      const started = await start(name, config(name, 50, extra));
      await firstRedirect(started.server.url, paths[0] as string);
      await firstProbeRound(started.server.url, 5000);
      return started.server;
    };

    // Several hosts on one Redis: the same pipeline sharing through a local redis-server vs alone, and
    // the rate limit counted in Redis vs per instance. Redis commands per second and per redirect.
    const cluster = async () => {
      const redis = await startBenchRedis(WORK, serverCpu);
      if (redis === undefined) {
        console.log('\nno redis-server: the cluster comparisons are skipped (apt-get install redis-server)');
        return;
      }
      try {
        const sharing = await twin('redis', { cluster: { redis: redis.url, keyPrefix: 'bench:' } });
        const alone = await twin('noredis', {});
        const before = await redis.commandStats();
        const startedAt = Date.now();
        const c = await compare('Redis sharing on vs off (two fresh servers)', sharing, alone);
        const seconds = (Date.now() - startedAt) / 1000;
        const after = await redis.commandStats();
        const calls = (names: (name: string) => boolean) => Object.entries(after).filter(([k]) => names(k)).reduce((n, [k, v]) => n + v - (before[k] ?? 0), 0) / seconds;
        // What mirrorgate sends, and what Redis runs in all (the Lua scripts' own GET, PEXPIRE, HINCRBY… included).
        const sent = calls((k) => SENT_COMMANDS.includes(k));
        const all = calls((k) => k !== 'info');
        results.redisSharing = {
          ...costOf(c), redisCommandsPerSecond: sent, redisCommandsPerRedirect: sent / c.a.rps,
          redisCallsInScriptsIncludedPerSecond: all, redisCallsPerRedirect: all / c.a.rps,
        };
        console.log(`Redis: ${sent.toFixed(1)} commands a second sent (${(sent / c.a.rps).toFixed(5)} per redirect at ${c.a.rps.toFixed(0)} req/s); `
          + `${all.toFixed(1)} calls a second with those inside the Lua scripts (${(all / c.a.rps).toFixed(4)} per redirect)`);
        await alone.stop();
        const limited = await twin('redisratelimit', { cluster: { redis: redis.url, keyPrefix: 'bench2:', sharedRateLimit: true } });
        const before2 = await redis.commands();
        const c2 = await compare('rate limit counted in Redis vs per instance (both sharing through Redis)', limited, sharing);
        const requests2 = [...c2.rounds.a, ...c2.rounds.b].reduce((sum, r) => sum + r.requests, 0);
        results.sharedRateLimit = { ...costOf(c2), redisCommandsPerRedirectBoth: (await redis.commands() - before2) / requests2 };
        await limited.stop();
        await sharing.stop();
      } finally {
        await redis.stop();
      }
    };
    if (args['cluster-only']) {
      await cluster();
      writeOut(results, { files: FILES, seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, tool, pinned: pin });
      return;
    }

    results.fullPipeline = await compare(`full pipeline (${FILES} files, 50 mirrors) vs bare Fastify`, main.server, bare);
    results.catalog = {
      files: FILES,
      fullScanSeconds: scanSeconds,
      rssBytes: rssBytes(main.server.child.pid as number),
    };

    // What the headers clients see cost: Link alternates and the Metalink link, Repr-Digest and Digest.
    // Two fresh servers of the same age, the same catalog (every file "hashed") and config but for
    // `clients`, started and warmed alike: the difference is the headers alone.
    const withHeaders = await twin('headers', {});
    const withoutHeaders = await twin('noheaders', { clients: { alternates: 0, digests: false } });
    const headers = await compare('Link and digest headers on vs off (two fresh servers)', withHeaders, withoutHeaders);
    results.clientHeaders = costOf(headers);
    await withHeaders.stop();
    await withoutHeaders.stop();

    // The access log: the same pair, one writing a line per download (to a real file on this disk).
    rmSync(join(WORK, 'access.log'), { force: true });
    const logging = await twin('accesslog', { accessLog: { file: join(WORK, 'access.log') } });
    const notLogging = await twin('noaccesslog', {});
    const accessLog = await compare('access log on vs off (two fresh servers)', logging, notLogging);
    results.accessLog = costOf(accessLog);
    await logging.stop();
    await notLogging.stop();

    if (!args.quick) {
      await cluster();
      // What no redirect logic can beat inside Fastify: the rate-limit plugin and the response headers alone.
      const floor = await startProcess('floor', [join(PACKAGE_ROOT, 'dist/bench/bare-fastify.js'), '0', 'floor'], /listening (http:\/\/[\d.:]+)/, serverCpu);
      servers.push(floor);
      results.floor = await compare('the floor: bare Fastify + @fastify/rate-limit + mirrorgate\'s three headers, vs bare', floor, bare);
      await floor.stop();

      const off = await start('nocount', config('nocount', 50, { counters: { enabled: false } }));
      await firstRedirect(off.server.url, paths[0] as string);
      await firstProbeRound(off.server.url, 5000);
      const counting = await compare('counters on vs off', main.server, off.server);
      results.counters = { ...counting, cost: 1 - counting.rpsRatio, bestCost: 1 - counting.best.rpsRatio };
      await off.server.stop();

      const probed = await start('probe500', config('probe500', 500));
      const unprobed = await start('noprobe500', config('noprobe500', 500, { probe: { enabled: false } }));
      await firstRedirect(probed.server.url, paths[0] as string);
      // The steady state, not the start-up burst: the first round probes every mirror at once and
      // measures each one's throughput (1 MiB apiece), which later rounds do only every tenth time.
      await firstProbeRound(probed.server.url, 5000);
      const probing = await compare('500 mirrors: probing on (30 s) vs off', probed.server, unprobed.server);
      results.probing500 = { ...probing, cost: 1 - probing.rpsRatio, bestCost: 1 - probing.best.rpsRatio };
      await probed.server.stop();
      await unprobed.server.stop();

      await main.server.stop();
      const restarted = await start('full', config('full', 50));
      const firstMs = restarted.startMs + await firstRedirect(restarted.server.url, paths[0] as string);
      (results.catalog as Record<string, unknown>).restartToFirstRedirectMs = firstMs;
      const rescanStarted = Date.now();
      await exec(process.execPath, [BIN, 'scan', '--config', config('full', 50), '--db', db('full')], { maxBuffer: 1 << 24 });
      (results.catalog as Record<string, unknown>).rescanSeconds = (Date.now() - rescanStarted) / 1000;

      const tiny = join(WORK, 'repo-1');
      generateRepository(tiny, 1);
      const emptyConfig = join(WORK, 'empty.json');
      writeFileSync(emptyConfig, JSON.stringify({ repository: tiny, probe: { enabled: true, intervalSeconds: 30 }, mirrors: mirrorsFor(stubUrls.slice(0, 50)) }));
      fresh('empty');
      const empty = await start('empty', emptyConfig);
      await new Promise((r) => setTimeout(r, 1000));
      const base = rssBytes(empty.server.child.pid as number);
      const full = rssBytes(restarted.server.child.pid as number);
      Object.assign(results.catalog as object, { rssBytes: full, rssEmptyBytes: base, bytesPerFile: Math.round((full - base) / FILES) });
      await empty.server.stop();

      const w2 = await start('workers', config('workers', 50), ['--workers', '2']);
      await firstRedirect(w2.server.url, paths[0] as string);
      await firstProbeRound(w2.server.url, 5000);
      const workers = await compare('--workers 2 vs 1 (mirrorgate)', w2.server, restarted.server);
      results.workers = workers;
      await w2.server.stop();
      const c = results.catalog as Record<string, number>;
      console.log(`\ncatalog: ${FILES} files; full scan ${c.fullScanSeconds?.toFixed(1)} s, rescan ${c.rescanSeconds?.toFixed(1)} s, `
        + `restart to first redirect ${c.restartToFirstRedirectMs} ms, RSS ${(c.rssBytes ?? 0) / 2 ** 20 | 0} MiB `
        + `(${c.bytesPerFile} bytes per file over an empty catalog)`);
      await Promise.all(servers.map((s) => s.stop()));
      await churn(results);
      // The dashboard with 500 mirrors and 400 days of counters (bench/dashboard.ts), in its own process.
      const { stdout } = await exec(process.execPath, [join(PACKAGE_ROOT, 'dist/bench/dashboard.js'), '--out', join(WORK, 'dashboard.json')], { maxBuffer: 1 << 24 });
      console.log(`\n${stdout.trim()}`);
      results.dashboard = JSON.parse(readFileSync(join(WORK, 'dashboard.json'), 'utf8'));
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await Promise.all(stubs.map((s) => s.close()));
  }
  writeOut(results, { files: FILES, seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, tool, pinned: pin });
}

function writeOut(results: Record<string, unknown>, params?: Record<string, unknown>): void {
  const out = { date: new Date().toISOString(), machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version }, params, results };
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nwrote ${OUT}`);
}

/** A feature's cost from an on (a) vs off (b) comparison: throughput lost and CPU added per request. */
function costOf(c: Comparison) {
  return {
    ...c, cost: 1 - c.rpsRatio, bestCost: 1 - c.best.rpsRatio,
    cpuUsAdded: c.a.cpuUsPerRequest - c.b.cpuUsPerRequest, bestCpuUsAdded: c.best.cpuA - c.best.cpuB,
  };
}


async function measure(server: Server, load: (url: string) => Promise<LoadResult>): Promise<Measured> {
  const pid = server.child.pid as number;
  const before = cpuMicros(pid);
  const result = await load(server.url);
  const used = cpuMicros(pid) - before;
  return { ...result, cpuUsPerRequest: result.requests > 0 ? used / result.requests : NaN };
}

/** The round with the median req/s. */
function median(rounds: Measured[]): Measured {
  const sorted = [...rounds].sort((x, y) => x.rps - y.rps);
  return sorted[Math.floor(sorted.length / 2)] as Measured;
}

function row(cells: string[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(12) : c.padStart(11))).join(' ');
}

await main();
