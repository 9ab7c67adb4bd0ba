// npm run build && node dist/bench/instructions.js [--variants JSON | --configs JSON] [--warmup N] [--requests N] [--bare]
//
// What a feature costs per redirect, in instructions: valgrind's callgrind counts the server's
// user-space instructions while a client sends N keep-alive redirects, after a warm-up that lets the JIT
// settle. It is far steadier than the A/B rounds of bench/run.ts (this shared machine's CPU time per
// request varies by ±20% between identical servers), but not blind to load: how many requests one
// turn of the event loop handles changes the count, so run it on an otherwise idle machine. Each
// variant is the bench pipeline's config (10k files, 50 mirrors, every file "hashed") with probing off
// and `clients` replaced; default: the Link and digest headers on, off, and in parts. `--configs` names
// whole config extras instead (e.g. {"on":{},"off":{"counters":{"enabled":false}}}). `--bare` measures
// bench/bare-fastify.js instead, `floor` against `floor-headers`: the same header lines in Fastify with
// no mirrorgate code. Needs valgrind.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { PACKAGE_ROOT } from '../src/paths.js';
import { generateRepository, pipelineConfig, writeLoadInputs } from './lib/fixtures.js';

const { values: args } = parseArgs({
  options: {
    variants: { type: 'string', default: JSON.stringify({
      none: { alternates: 0, digests: false }, digests: { alternates: 0 }, alternates1: { alternates: 1 }, alternates3: {},
    }) },
    warmup: { type: 'string', default: '40000' },
    requests: { type: 'string', default: '10000' },
    bare: { type: 'boolean', default: false },
    configs: { type: 'string' },
  },
});
const WORK = join(PACKAGE_ROOT, 'bench/.work/instructions');
const BIN = join(PACKAGE_ROOT, 'dist/src/cli/bin.js');

async function load(port: number, n: number, paths: string[], ips: string[]): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  let sent = 0;
  const one = (): Promise<void> => new Promise((resolve, reject) => {
    const i = sent++;
    request({ host: '127.0.0.1', port, path: paths[i % paths.length], agent, headers: { 'x-forwarded-for': ips[(i * 7) % ips.length] } }, (res) => {
      if (res.statusCode !== 302) reject(new Error(`status ${res.statusCode}`));
      res.resume();
      res.on('end', resolve);
    }).on('error', reject).end();
  });
  await Promise.all(Array.from({ length: 4 }, async () => { while (sent < n) await one(); }));
  agent.destroy();
}

/** Each variant's top-level config keys: --configs as given, or --variants as `clients`. */
function configExtras(): Record<string, object> {
  if (args.configs !== undefined) return JSON.parse(args.configs) as Record<string, object>;
  const variants = JSON.parse(args.variants) as Record<string, object>;
  return Object.fromEntries(Object.entries(variants).map(([name, clients]) => [name, { clients }]));
}

async function main(): Promise<void> {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const repository = join(PACKAGE_ROOT, 'bench/.work/repo-10000');
  const paths = generateRepository(repository, 10_000);
  const { pathsFile, ipsFile } = writeLoadInputs(WORK, repository, paths);
  const urls = readFileSync(pathsFile, 'utf8').trim().split('\n');
  const ips = readFileSync(ipsFile, 'utf8').trim().split('\n');
  const mirrors = Array.from({ length: 50 }, (_, i) => `http://127.0.0.1:${20000 + i}/`);
  const warmup = Number(args.warmup);
  const measured = Number(args.requests);
  const base: Record<string, number> = {};
  const variants: [string, string[]][] = args.bare
    ? ['floor', 'floor-headers'].map((mode, i) => [mode, [join(PACKAGE_ROOT, 'dist/bench/bare-fastify.js'), String(21000 + i), mode]])
    : Object.entries(configExtras()).map(([name, extra], i) => {
      const config = join(WORK, `${name}.json`);
      const db = join(WORK, `${name}.db`);
      writeFileSync(config, JSON.stringify(pipelineConfig(repository, mirrors, { probe: { enabled: false }, ...extra })));
      execFileSync(process.execPath, [BIN, 'scan', '--config', config, '--db', db]);
      const sqlite = new Database(db);
      sqlite.prepare('UPDATE files SET sha256 = lower(hex(randomblob(32)))').run();
      sqlite.close();
      return [name, [BIN, 'serve', '--config', config, '--db', db, '--port', String(21000 + i)]];
    });
  for (const [name, command] of variants) {
    const port = Number(command[args.bare ? 1 : command.length - 1]);
    const out = join(WORK, `callgrind.${name}`);
    const server = spawn('valgrind', ['--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', `--callgrind-out-file=${out}.%p`,
      process.execPath, ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    server.stdout.on('data', (d: Buffer) => { log += d.toString(); });
    server.stderr.on('data', (d: Buffer) => { log += d.toString(); });
    while (!/Server listening|^listening/m.test(log)) await new Promise((r) => setTimeout(r, 200));
    await load(port, warmup, urls, ips);
    execFileSync('callgrind_control', ['-i', 'on', String(server.pid)]);
    await load(port, measured, urls, ips);
    execFileSync('callgrind_control', ['-i', 'off', String(server.pid)]);
    execFileSync('callgrind_control', ['-d', String(server.pid)]);
    server.kill();
    await new Promise((r) => server.on('exit', r));
    let total = 0;
    for (const f of readdirSync(WORK).filter((f) => f.startsWith(`callgrind.${name}.`))) {
      for (const m of readFileSync(join(WORK, f), 'utf8').matchAll(/^totals: (\d+)/gm)) total += Number(m[1]);
    }
    base[name] = total / measured;
    const first = Object.values(base)[0] as number;
    console.log(`${name.padEnd(14)} ${(total / measured / 1000).toFixed(1)}k instructions per redirect (${((total / measured / first - 1) * 100).toFixed(1)}% over ${Object.keys(base)[0]})`);
  }
}

await main();
