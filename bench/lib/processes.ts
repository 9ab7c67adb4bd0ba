// Starting servers as child processes, and reading what they cost: CPU ticks and resident memory
// from /proc (summed over a process and its children, for --workers).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

export interface Server {
  readonly name: string;
  readonly child: ChildProcess;
  readonly url: string;
  /** Everything it printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Spawns a server and waits for `pattern` (group 1 = its URL) on its output. With `cpu`, the server is
 * pinned to that core (taskset), so it and the load generator do not trade places between rounds.
 */
export async function startProcess(name: string, args: string[], pattern: RegExp, cpu?: number, timeoutMs = 300_000, env = process.env): Promise<Server> {
  const child = cpu === undefined
    ? spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env })
    : spawn('taskset', ['-c', String(cpu), process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in time:\n${output.slice(-2000)}`)), timeoutMs);
    const onData = (d: Buffer) => {
      output += d.toString();
      const m = pattern.exec(output);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${name} exited with ${code}:\n${output.slice(-2000)}`)));
  });
  return {
    name, child, url, output: () => output,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) {
        resolve();
        return;
      }
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

function descendants(pid: number): number[] {
  const out = [pid];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      for (const c of children.split(/\s+/).filter(Boolean)) out.push(...descendants(Number(c)));
    }
  } catch {
    // the process is gone
  }
  return out;
}

/** CPU time (user + system) of a process tree, in microseconds. */
export function cpuMicros(pid: number): number {
  let ticks = 0;
  for (const p of descendants(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
    } catch {
      // gone
    }
  }
  return ticks * 10_000; // USER_HZ = 100
}

/**
 * Memory of each process of a tree, in bytes: resident (RSS, which counts a page shared by N processes N
 * times) and proportional (PSS, which counts it 1/N in each: their sum is what the tree really uses).
 */
export function memoryOf(pid: number): { pid: number; rss: number; pss: number }[] {
  const out: { pid: number; rss: number; pss: number }[] = [];
  for (const p of descendants(pid)) {
    try {
      const rollup = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0) * 1024;
      out.push({ pid: p, rss: kb('Rss'), pss: kb('Pss') });
    } catch {
      // gone, or not a node process (taskset execs into node: same pid)
    }
  }
  return out;
}

/** Resident set size of a process tree, in bytes. */
export function rssBytes(pid: number): number {
  let kb = 0;
  for (const p of descendants(pid)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      kb += Number(m?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kb * 1024;
}

/**
 * Polls until the server redirects; returns how long that took. Then waits for its start-up rescan
 * to end, so a measurement never competes with a background scan.
 */
export async function firstRedirect(base: string, path: string): Promise<number> {
  const started = Date.now();
  let took: number | undefined;
  for (;;) {
    try {
      if (took === undefined) {
        const res = await fetch(`${base}/${path}`, { redirect: 'manual', headers: { 'x-forwarded-for': '81.2.69.142' } });
        if (res.status === 302) took = Date.now() - started;
      } else {
        const health = await (await fetch(`${base}/_mirrorgate/health`)).json() as { scanning: boolean };
        if (!health.scanning) return took;
      }
    } catch {
      // not up yet
    }
    if (Date.now() - started > 300_000) throw new Error(`${base} never redirected ${path}, or never finished scanning`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until every mirror has been probed once, then settleMs for that round's throughput probes to end. */
export async function firstProbeRound(base: string, settleMs: number): Promise<void> {
  const until = Date.now() + 300_000;
  for (;;) {
    const mirrors = await (await fetch(`${base}/_mirrorgate/mirrors`)).json() as { latencyMs: number | null }[];
    if (mirrors.every((m) => m.latencyMs !== null)) break;
    if (Date.now() > until) throw new Error(`${base}: the first probe round did not finish in 5 minutes`);
    await new Promise((r) => setTimeout(r, 500));
  }
  await new Promise((r) => setTimeout(r, settleMs));
}
