// npm run bench:profile [-- --files N --seconds S --mirrors M --config JSON --bare]
// node dist/bench/profile.js --summary-only FILE.cpuprofile --requests N   (re-read a kept profile)
//
// Runs mirrorgate's full bench pipeline while wrk (or autocannon) loads it, with the CPU profiler on for
// the measured load only (after a 5 s warm-up; bench/lib/alloc-probe.ts), then prints where the CPU went:
// self time by function and by source file. The .cpuprofile file is kept for Chrome DevTools. This is how the targets in bench/run.ts are chased; it measures nothing
// that the bench itself reports.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { PACKAGE_ROOT } from '../src/paths.js';
import { startMirrorServer, type MirrorServer } from '../src/demo/mirror-server.js';
import { generateRepository, pipelineConfig, writeLoadInputs } from './lib/fixtures.js';
import { firstProbeRound, firstRedirect, startProcess } from './lib/processes.js';
import { hasWrk, loadWith } from './lib/load.js';

const { values: args } = parseArgs({
  options: {
    files: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '10' },
    mirrors: { type: 'string', default: '50' },
    connections: { type: 'string', default: '64' },
    work: { type: 'string' },
    bare: { type: 'boolean', default: false },
    /** JSON merged over the bench config, e.g. '{"geoip":{"enabled":false}}': profile a variant. */
    config: { type: 'string', default: '{}' },
    'summary-only': { type: 'string' },
    requests: { type: 'string', default: '1' },
  },
});

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function and per file, as shares of all samples. */
function summarize(profile: Profile, requests: number, windowUs = Infinity, top = 40): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // Only the busiest windowUs of the profile: the load, not start-up or shutdown.
  const idleIds = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  const at: number[] = [];
  let t = 0;
  for (const dt of profile.timeDeltas) at.push((t += dt));
  let from = 0;
  let busyIn = 0;
  let best = { from: 0, to: profile.samples.length, busy: -1 };
  for (let to = 0; to < profile.samples.length; to++) {
    if (!idleIds.has(profile.samples[to] as number)) busyIn += profile.timeDeltas[to] ?? 0;
    while ((at[to] as number) - (at[from] as number) > windowUs) {
      if (!idleIds.has(profile.samples[from] as number)) busyIn -= profile.timeDeltas[from] ?? 0;
      from += 1;
    }
    if (busyIn > best.busy) best = { from, to: to + 1, busy: busyIn };
  }
  for (let i = best.from; i < best.to; i++) {
    const id = profile.samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  let idle = 0;
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = (byId.get(id) as ProfileNode).callFrame;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const file = shortUrl(frame.url);
    const fn = `${frame.functionName || '(anonymous)'} ${file}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    byFile.set(file, (byFile.get(file) ?? 0) + us);
  }
  const busy = [...byFile.values()].reduce((a, b) => a + b, 0);
  const table = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n)
    .map(([k, us]) => `${(us / requests).toFixed(2).padStart(6)} µs ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${k}`).join('\n');
  return `busy ${(busy / requests).toFixed(2)} µs per request (${requests} requests; idle ${(idle / 1e6).toFixed(1)} s)\n\n`
    + `self time per request, by function (top ${top}):\n${table(byFunction, top)}\n\nby file:\n${table(byFile, 30)}`;
}

function shortUrl(url: string): string {
  if (url === '') return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const root = url.indexOf(PACKAGE_ROOT);
  return root >= 0 ? url.slice(root + PACKAGE_ROOT.length + 1) : url.replace(/^file:\/\//, '');
}

async function main(): Promise<void> {
  if (args['summary-only'] !== undefined) {
    console.log(summarize(JSON.parse(readFileSync(args['summary-only'], 'utf8')) as Profile, Number(args.requests), (Number(args.seconds) + 0.3) * 1e6));
    return;
  }
  const files = Number(args.files);
  const work = args.work ?? join(PACKAGE_ROOT, 'bench/.work');
  const profDir = join(work, 'profiles');
  rmSync(profDir, { recursive: true, force: true });
  mkdirSync(profDir, { recursive: true });
  const repository = join(work, `repo-${files}`);
  const paths = generateRepository(repository, files);
  const { pathsFile, ipsFile } = writeLoadInputs(work, repository, paths);
  const stubs: MirrorServer[] = [];
  for (let i = 0; i < Number(args.mirrors); i++) stubs.push(await startMirrorServer(repository));
  const configFile = join(work, 'profile.json');
  writeFileSync(configFile, JSON.stringify(pipelineConfig(repository, stubs.map((s) => s.url), JSON.parse(args.config) as Record<string, unknown>)));
  const tool = (await hasWrk()) ? 'wrk' : 'autocannon';
  // Server on core 0 and the load on core 1, as in the bench, when there are two cores.
  const [serverCpu, loadCpu] = cpus().length >= 2 ? [0, 1] : [undefined, undefined];
  // The profiler runs only while the measured load does, after a warm-up (bench/lib/alloc-probe.ts):
  // first requests (caches filling, code compiling) are not what a redirect costs.
  const profile = join(profDir, 'redirects.cpuprofile');
  const env = { ...process.env, MIRRORGATE_CPU_PROFILE: profile };
  const probe = ['--import', join(PACKAGE_ROOT, 'dist/bench/lib/alloc-probe.js')];
  const server = args.bare
    ? await startProcess('bare', [...probe, join(PACKAGE_ROOT, 'dist/bench/bare-fastify.js')], /listening (http:\/\/[\d.:]+)/, serverCpu, 60_000, env)
    : await startProcess('mirrorgate', [
      ...probe, join(PACKAGE_ROOT, 'dist/src/cli/bin.js'), 'serve', '--config', configFile, '--db', join(work, `profile-${files}.db`), '--port', '0',
    ], /Server listening at (http:\/\/[\d.:]+)/, serverCpu, 600_000, env);
  let requests = 0;
  try {
    if (!args.bare) {
      await firstRedirect(server.url, paths[0] as string); // and the start-up scan's end
      const probing = (JSON.parse(args.config) as { probe?: { enabled?: boolean } }).probe?.enabled !== false;
      if (probing) await firstProbeRound(server.url, 5000); // the steady state, after the start-up round
    }
    const load = (seconds: number) => loadWith(tool, server.url, { seconds, connections: Number(args.connections), pathsFile, ipsFile, cpu: loadCpu });
    await load(5);
    process.kill(server.child.pid as number, 'SIGUSR2');
    const result = await load(Number(args.seconds));
    process.kill(server.child.pid as number, 'SIGUSR2');
    requests = result.requests;
    console.log(`${tool}: ${result.rps.toFixed(0)} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, errors ${result.errors}`);
    for (const until = Date.now() + 30_000; !existsSync(profile) && Date.now() < until;) await new Promise((r) => setTimeout(r, 100));
  } finally {
    await server.stop();
    await Promise.all(stubs.map((s) => s.close()));
  }
  if (!existsSync(profile)) throw new Error(`no profile written to ${profile}`);
  console.log(`${profile}\n`);
  console.log(summarize(JSON.parse(readFileSync(profile, 'utf8')) as Profile, requests, (Number(args.seconds) + 0.3) * 1e6));
}

await main();
