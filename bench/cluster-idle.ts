// npm run build && node dist/bench/cluster-idle.js [--mirrors 50] [--seconds 20]
//
// What sharing through Redis costs in the background, per second: the CPU an idle server uses with
// cluster.redis set against a local redis-server, beside the same server without it (the bench
// pipeline's config, probing every 30 s). The redirect path does not touch Redis, so this is the whole
// of the cost: divided by a rate, it is the cost per redirect at that rate. Also the Redis commands it
// sends per second (by kind, from INFO commandstats; commands run inside its Lua scripts counted apart).
import { mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PACKAGE_ROOT } from '../src/paths.js';
import { startMirrorServer } from '../src/demo/mirror-server.js';
import { generateRepository, pipelineConfig } from './lib/fixtures.js';
import { startProcess, firstProbeRound } from './lib/processes.js';
import { startBenchRedis } from './lib/redis.js';

const { values: args } = parseArgs({ options: { mirrors: { type: 'string', default: '50' }, seconds: { type: 'string', default: '20' } } });
const MIRRORS = Number(args.mirrors);
const SECONDS = Number(args.seconds);
const WORK = join(PACKAGE_ROOT, 'bench/.work/cluster-idle');
const BIN = join(PACKAGE_ROOT, 'dist/src/cli/bin.js');

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
}

async function main(): Promise<void> {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const repository = join(WORK, 'repo');
  generateRepository(repository, 10_000);
  const stubs = [];
  for (let i = 0; i < MIRRORS; i++) stubs.push(await startMirrorServer(repository));
  const redis = await startBenchRedis(WORK, undefined);
  if (redis === undefined) throw new Error('needs redis-server');
  const results: Record<string, unknown> = {};
  try {
    for (const [name, extra] of [['alone', {}], ['sharing', { cluster: { redis: redis.url, keyPrefix: 'idle:' } }]] as const) {
      const config = join(WORK, `${name}.json`);
      writeFileSync(config, JSON.stringify(pipelineConfig(repository, stubs.map((s) => s.url), extra)));
      const server = await startProcess(name, [BIN, 'serve', '--config', config, '--db', join(WORK, `${name}.db`), '--port', '0'], /Server listening at (http:\/\/[\d.:]+)/);
      await firstProbeRound(server.url, 5000);
      const pid = server.child.pid as number;
      const before = cpuMs(pid);
      const commands = await redis.commandStats();
      await new Promise((r) => setTimeout(r, SECONDS * 1000));
      const perSecond = (cpuMs(pid) - before) / SECONDS;
      const sent = diff(await redis.commandStats(), commands);
      results[name] = { cpuMsPerSecond: perSecond, redisCommandsPerSecond: Object.fromEntries(Object.entries(sent).map(([k, v]) => [k, v / SECONDS])) };
      console.log(`${name}: ${perSecond.toFixed(2)} ms CPU a second idle, ${MIRRORS} mirrors; Redis commands a second: ${JSON.stringify(results[name])}`);
      await server.stop();
    }
  } finally {
    await redis.stop();
    await Promise.all(stubs.map((s) => s.close()));
  }
  const a = results.alone as { cpuMsPerSecond: number };
  const s = results.sharing as { cpuMsPerSecond: number };
  const added = s.cpuMsPerSecond - a.cpuMsPerSecond;
  console.log(`sharing adds ${added.toFixed(2)} ms CPU a second: ${(added * 1000 / 1000).toFixed(2)} µs per redirect at 1,000 req/s, ${(added * 1000 / 6000).toFixed(3)} µs at 6,000`);
  writeFileSync(join(PACKAGE_ROOT, 'bench/results/cluster-idle.json'), `${JSON.stringify({ date: new Date().toISOString(), mirrors: MIRRORS, seconds: SECONDS, results, addedCpuMsPerSecond: added }, null, 2)}\n`);
}

function diff(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (k !== 'info' && v - (before[k] ?? 0) > 0) out[k] = v - (before[k] ?? 0);
  return out;
}

await main();
