// The load generator, in its own process: wrk when installed (apt-get install wrk), with bench/load.lua
// spreading requests over many paths and client addresses; autocannon (a devDependency) otherwise.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';

const run = promisify(execFile);

export interface LoadResult {
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Answers that were neither 2xx nor 3xx (429s, 5xx): should be 0. */
  readonly errors: number;
}

export interface LoadOptions {
  readonly seconds: number;
  readonly connections: number;
  readonly pathsFile: string;
  readonly ipsFile: string;
  /** Pin the load generator to this core (taskset). */
  readonly cpu?: number;
}

export async function hasWrk(): Promise<boolean> {
  try {
    await run('wrk', ['--version']);
    return true;
  } catch (err) {
    return (err as { code?: unknown }).code === 1; // wrk --version exits 1 after printing
  }
}

export async function loadWith(tool: 'wrk' | 'autocannon', url: string, o: LoadOptions): Promise<LoadResult> {
  return tool === 'wrk' ? wrk(url, o) : autocannon(url, o);
}

async function wrk(url: string, o: LoadOptions): Promise<LoadResult> {
  const script = join(PACKAGE_ROOT, 'bench/load.lua');
  const argv = ['-t1', `-c${o.connections}`, `-d${o.seconds}s`, '--latency', '-s', script, url];
  const [command, args] = o.cpu === undefined ? ['wrk', argv] : ['taskset', ['-c', String(o.cpu), 'wrk', ...argv]];
  const { stdout } = await run(command, args, {
    env: { ...process.env, BENCH_PATHS: o.pathsFile, BENCH_IPS: o.ipsFile },
    maxBuffer: 10 * 1024 * 1024,
  });
  const number = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? 'NaN');
  const latency = (pct: string) => {
    const m = new RegExp(`^\\s+${pct}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(stdout);
    if (!m) return NaN;
    const unit = { us: 0.001, ms: 1, s: 1000 }[m[2] as 'us' | 'ms' | 's'];
    return Number(m[1]) * unit;
  };
  return {
    requests: number(/(\d+) requests in/),
    rps: number(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: latency('50'),
    p99Ms: latency('99'),
    errors: Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0),
  };
}

async function autocannon(url: string, o: LoadOptions): Promise<LoadResult> {
  const { default: ac } = await import('autocannon');
  const paths = readFileSync(o.pathsFile, 'utf8').trim().split('\n');
  const ips = readFileSync(o.ipsFile, 'utf8').trim().split('\n');
  let n = 0;
  const result = await ac({
    url,
    connections: o.connections,
    duration: o.seconds,
    requests: [{
      setupRequest: (req) => {
        n += 1;
        return { ...req, path: paths[n % paths.length], headers: { ...req.headers, 'x-forwarded-for': ips[(n * 7919) % ips.length] } };
      },
    }],
  });
  return {
    requests: result.requests.total,
    rps: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result['4xx'] + result['5xx'],
  };
}

