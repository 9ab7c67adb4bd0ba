// npm run bench:scale [-- --files N --seconds S --rounds R --connections C --out FILE --work DIR]
// One host at scale (issue 14), at N files (default 10,000; --files 1000000 and 5000000 generate sparse
// repositories under bench/.work):
// - the catalog: a full scan into an empty database, a rescan that finds nothing new, restart to first redirect;
// - memory of mirrorgate with --workers 1 (one process), 2 and 4, each after a warm-up load has filled its
//   caches: RSS (a page shared by N processes counted N times) and PSS (counted once in all), summed
//   over the primary and its workers;
// - req/s of --workers 1 and 2, the load generator pinned to its own core;
// - the full pipeline against the floor (bare Fastify + @fastify/rate-limit + the three headers; and the
//   same with the client headers a default redirect carries) and bare Fastify, all pinned to one core, in
//   alternating rounds: req/s, p99, CPU µs and JS heap bytes allocated per redirect (bench/lib/alloc-probe.ts).
import { execFile } from 'node:child_process';
import { cpus } from 'node:os';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { PACKAGE_ROOT } from '../src/paths.js';
import { startMirrorServer, type MirrorServer } from '../src/demo/mirror-server.js';
import { fakeHashes, generateRepository, pipelineConfig, writeLoadInputs } from './lib/fixtures.js';
import { hasWrk, loadWith, type LoadResult } from './lib/load.js';
import { cpuMicros, firstProbeRound, firstRedirect, memoryOf, startProcess, type Server } from './lib/processes.js';

const exec = promisify(execFile);
const { values: args } = parseArgs({
  options: {
    files: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '64' },
    out: { type: 'string' },
    work: { type: 'string' },
    /** The catalog and memory figures only (for 5,000,000 files, where each start is a long rescan). */
    'memory-only': { type: 'boolean', default: false },
  },
});
const FILES = Number(args.files);
const SECONDS = Number(args.seconds);
const ROUNDS = Math.max(1, Number(args.rounds));
const WORK = args.work ?? join(PACKAGE_ROOT, 'bench/.work');
const OUT = args.out ?? join(PACKAGE_ROOT, `bench/results/scale-${FILES}.json`);
const BIN = join(PACKAGE_ROOT, 'dist/src/cli/bin.js');
const PROBE = join(PACKAGE_ROOT, 'dist/bench/lib/alloc-probe.js');
const LISTENING = /Server listening at (http:\/\/[\d.:]+)/;
/** Where mirrorgate's allocation sites (sampled in its measured rounds) are written. */
const SITES = join(WORK, 'alloc-sites-mirrorgate.json');
const MiB = 2 ** 20;

interface Round extends LoadResult {
  readonly cpuUsPerRequest: number;
  readonly allocatedBytesPerRequest: number | undefined;
  readonly gcMsPerSecond: number | undefined;
}

async function main(): Promise<void> {
  mkdirSync(WORK, { recursive: true });
  if (!(await hasWrk())) throw new Error('bench:scale needs wrk (apt-get install wrk)');
  const pin = cpus().length >= 2;
  const generated = Date.now();
  const repository = join(WORK, `repo-${FILES}`);
  const paths = generateRepository(repository, FILES);
  console.log(`bench:scale: ${FILES} files (repository ready in ${((Date.now() - generated) / 1000).toFixed(0)} s), ${cpus().length} cores`);
  const { pathsFile, ipsFile } = writeLoadInputs(WORK, repository, paths);
  const load = (url: string, seconds = SECONDS) => loadWith('wrk', url, { seconds, connections: Number(args.connections), pathsFile, ipsFile, cpu: pin ? 1 : undefined });
  const stubs: MirrorServer[] = [];
  for (let i = 0; i < 50; i++) stubs.push(await startMirrorServer(repository));
  const configFile = join(WORK, 'scale.json');
  writeFileSync(configFile, JSON.stringify(pipelineConfig(repository, stubs.map((s) => s.url))));
  const db = join(WORK, `scale-${FILES}.db`);
  const results: Record<string, unknown> = {};
  const servers: Server[] = [];
  const serve = async (name: string, extra: string[] = [], cpu?: number, alloc?: string, sites = false) => {
    const started = Date.now();
    const nodeArgs = alloc === undefined ? [] : ['--import', PROBE];
    const env = alloc === undefined ? process.env : { ...process.env, MIRRORGATE_ALLOC_OUT: alloc, ...(sites ? { MIRRORGATE_ALLOC_SITES: SITES } : {}) };
    const server = await startProcess(name, [...nodeArgs, BIN, 'serve', '--config', configFile, '--db', db, '--port', '0', '--log-level', 'info', ...extra],
      LISTENING, cpu, 600_000, env);
    servers.push(server);
    const firstMs = Date.now() - started + await firstRedirect(server.url, paths[0] as string);
    // Measured after the start-up rescan (it follows the watcher's set-up, so the health endpoint's
    // `scanning` can be false before it begins): its child process is not the server's steady state.
    for (const until = Date.now() + 1_800_000; !server.output().includes('"msg":"catalog scanned"');) {
      if (Date.now() > until) throw new Error(`${name}: the start-up scan never ended`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return { server, firstMs };
  };
  try {
    // The catalog.
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${db}${suffix}`, { force: true });
    let t0 = Date.now();
    await exec(process.execPath, [BIN, 'scan', '--config', configFile, '--db', db], { maxBuffer: 1 << 24 });
    const fullScanSeconds = (Date.now() - t0) / 1000;
    fakeHashes(db);
    t0 = Date.now();
    await exec(process.execPath, [BIN, 'scan', '--config', configFile, '--db', db], { maxBuffer: 1 << 24 });
    const rescanSeconds = (Date.now() - t0) / 1000;
    const single = await serve('mirrorgate');
    results.catalog = { files: FILES, fullScanSeconds, rescanSeconds, restartToFirstRedirectMs: single.firstMs };
    console.log(`catalog: full scan ${fullScanSeconds.toFixed(1)} s, rescan ${rescanSeconds.toFixed(1)} s, restart to first redirect ${single.firstMs} ms`);
    await single.server.stop();

    // Memory, each layout on its own after the same warm-up.
    const memory: Record<string, unknown> = {};
    const throughput: Record<string, Round[]> = {};
    // --workers 1 is one process (no primary); N > 1 is a primary and N workers.
    for (const [label, extra] of [['--workers 1', []], ['--workers 2', ['--workers', '2']], ['--workers 4', ['--workers', '4']]] as const) {
      const { server, firstMs } = await serve(label, [...extra]);
      await firstProbeRound(server.url, 2000);
      await load(server.url, Math.max(10, SECONDS));
      const processes = memoryOf(server.child.pid as number);
      const rss = processes.reduce((n, p) => n + p.rss, 0);
      const pss = processes.reduce((n, p) => n + p.pss, 0);
      memory[label] = { restartToFirstRedirectMs: firstMs, rssBytes: rss, pssBytes: pss, processes };
      console.log(`${label.padEnd(12)} RSS ${(rss / MiB).toFixed(0)} MiB, PSS ${(pss / MiB).toFixed(0)} MiB over ${processes.length} processes `
        + `(${processes.map((p) => (p.rss / MiB).toFixed(0)).join(' + ')} MiB RSS); first redirect after ${firstMs} ms`);
      if (!args['memory-only'] && (label === '--workers 1' || label === '--workers 2')) {
        throughput[label] = [];
        for (let r = 0; r < ROUNDS; r++) throughput[label].push(await measure(server, load));
      }
      await server.stop();
    }
    const alone = memory['--workers 1'] as { rssBytes: number; pssBytes: number };
    for (const label of ['--workers 2', '--workers 4']) {
      const m = memory[label] as { rssBytes: number; pssBytes: number };
      console.log(`${label}: ${(m.rssBytes / alone.rssBytes).toFixed(2)}× the RSS of one process, ${(m.pssBytes / alone.pssBytes).toFixed(2)}× its PSS`);
    }
    results.memory = memory;
    // The rest measures speed: not with --memory-only.
    speed: {
      if (args['memory-only']) break speed;
      const w1 = median(throughput['--workers 1'] ?? []);
      const w2 = median(throughput['--workers 2'] ?? []);
      results.workers = { workers1: w1, workers2: w2, ratio: w2.rps / w1.rps, rounds: throughput };
      console.log(`--workers 1: ${w1.rps.toFixed(0)} req/s; --workers 2: ${w2.rps.toFixed(0)} req/s (${(w2.rps / w1.rps).toFixed(2)}×), wrk pinned to core 1`);

      // The full pipeline against the floors and bare Fastify, on one core, rounds alternating.
      const pinned = pin ? 0 : undefined;
      const allocFile = (name: string) => join(WORK, `alloc-${name}.json`);
      const contenders: Server[] = [(await serve('mirrorgate', [], pinned, allocFile('mirrorgate'))).server];
      for (const [name, mode] of [['floor', 'floor'], ['floor+client headers', 'floor-headers'], ['bare', '']] as const) {
        const server = await startProcess(name, ['--import', PROBE, join(PACKAGE_ROOT, 'dist/bench/bare-fastify.js'), '0', mode],
          /listening (http:\/\/[\d.:]+)/, pinned, 60_000, { ...process.env, MIRRORGATE_ALLOC_OUT: allocFile(name) });
        servers.push(server);
        contenders.push(server);
      }
      await firstProbeRound((contenders[0] as Server).url, 5000);
      for (const server of contenders) await load(server.url, 2);
      const rounds = new Map<string, Round[]>(contenders.map((s) => [s.name, []]));
      for (let r = 0; r < ROUNDS; r++) {
        for (const server of contenders) rounds.get(server.name)?.push(await measure(server, load, allocFile(server.name)));
      }
      const floor = median(rounds.get('floor') ?? []);
      const bare = median(rounds.get('bare') ?? []);
      const best = (name: string) => Math.max(...(rounds.get(name) ?? []).map((m) => m.rps));
      const table: Record<string, unknown> = {};
      console.log(`\n${FILES} files, ${ROUNDS} rounds of ${SECONDS} s, servers on core 0 and wrk on core 1; median round [best round]`);
      console.log(row(['', 'req/s', '× floor', '× bare', 'p99 ms', 'p99×floor', 'CPU µs/req', 'alloc B/req', 'GC ms/s']));
      for (const server of contenders) {
        const m = median(rounds.get(server.name) ?? []);
        table[server.name] = {
          median: m, rounds: rounds.get(server.name), bestRps: best(server.name),
          vsFloor: m.rps / floor.rps, vsFloorBest: best(server.name) / best('floor'), vsBare: m.rps / bare.rps, vsBareBest: best(server.name) / best('bare'),
          p99VsFloor: m.p99Ms / floor.p99Ms, p99VsBare: m.p99Ms / bare.p99Ms,
        };
        console.log(row([server.name, `${m.rps.toFixed(0)} [${best(server.name).toFixed(0)}]`,
          `${(m.rps / floor.rps).toFixed(2)} [${(best(server.name) / best('floor')).toFixed(2)}]`, `${(m.rps / bare.rps).toFixed(2)} [${(best(server.name) / best('bare')).toFixed(2)}]`,
          m.p99Ms.toFixed(2), (m.p99Ms / floor.p99Ms).toFixed(2), m.cpuUsPerRequest.toFixed(1), (m.allocatedBytesPerRequest ?? NaN).toFixed(0), (m.gcMsPerSecond ?? NaN).toFixed(1)]));
      }
      results.pipeline = table;
      // Where mirrorgate's heap bytes come from: one more round, on a server of its own with the sampling
      // profiler on (every KiB; it slows the round, so the round is not one of the measured).
      await Promise.all(contenders.map((c) => c.stop()));
      const sampled = (await serve('mirrorgate (sampled)', [], pinned, allocFile('sampled'), true)).server;
      await firstProbeRound(sampled.url, 5000);
      await load(sampled.url, 2);
      rmSync(SITES, { force: true });
      const last = await measure(sampled, load, allocFile('sampled'));
      await readWhenWritten(SITES);
      try {
        const { total, sites } = JSON.parse(readFileSync(SITES, 'utf8')) as { total: number; sites: [string, number][] };
        const perRequest = (bytes: number) => ((bytes / total) * (last.allocatedBytesPerRequest ?? 0)).toFixed(0).padStart(6);
        console.log(`\nmirrorgate's heap allocation by site, bytes per redirect (sampled):\n${sites.slice(0, 20).map(([site, bytes]) => `${perRequest(bytes)} B  ${site}`).join('\n')}`);
        results.allocationSites = sites.map(([site, bytes]) => ({ site, share: bytes / total }));
      } catch (err) {
        console.log(`no allocation sites: ${(err as Error).message}`);
      }
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await Promise.all(stubs.map((s) => s.close()));
  }
  const out = { date: new Date().toISOString(), machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    params: { files: FILES, seconds: SECONDS, rounds: ROUNDS, connections: Number(args.connections), pinned: pin }, results };
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nwrote ${OUT}`);
}

/** One round of load: req/s and latency, the server's CPU per request, and (with an alloc probe) its heap bytes per request. */
async function measure(server: Server, load: (url: string) => Promise<LoadResult>, allocFile?: string): Promise<Round> {
  const pid = server.child.pid as number;
  if (allocFile !== undefined) {
    rmSync(allocFile, { force: true });
    process.kill(pid, 'SIGUSR2');
  }
  const cpuBefore = cpuMicros(pid);
  const started = Date.now();
  const result = await load(server.url);
  const used = cpuMicros(pid) - cpuBefore;
  let allocatedBytesPerRequest: number | undefined;
  let gcMsPerSecond: number | undefined;
  if (allocFile !== undefined) {
    process.kill(pid, 'SIGUSR2');
    const alloc = await readWhenWritten(allocFile);
    allocatedBytesPerRequest = alloc.allocatedBytes / Math.max(1, result.requests);
    gcMsPerSecond = alloc.gcMs / ((Date.now() - started) / 1000);
  }
  return { ...result, cpuUsPerRequest: result.requests > 0 ? used / result.requests : NaN, allocatedBytesPerRequest, gcMsPerSecond };
}

async function readWhenWritten(file: string): Promise<{ allocatedBytes: number; gcMs: number }> {
  // (Also used to wait for the sites file, whose fields are not these.)
  for (const until = Date.now() + 10_000; Date.now() < until; await new Promise((r) => setTimeout(r, 20))) {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as { allocatedBytes: number; gcMs: number };
    } catch {
      // not yet
    }
  }
  throw new Error(`${file} was never written: is the alloc probe loaded?`);
}


function median(rounds: Round[]): Round {
  return [...rounds].sort((x, y) => x.rps - y.rps)[Math.floor(rounds.length / 2)] as Round;
}

function row(cells: string[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(22) : c.padStart(14))).join(' ');
}

await main();
