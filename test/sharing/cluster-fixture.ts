// The cluster tests' parts: a real redis-server on loopback (appendonly, fsync always: what a reply
// acknowledged survives a SIGKILL), real mirrors, and mirrorgate instances as separate processes with
// separate SQLite files and repository copies, each on its own loopback address.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Test } from 'tap';
import { Redis } from 'ioredis';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { makeFixture, serveProcess, waitForAsync, writeConfig, writeFiles, type Fixture, type ServeProcess } from '../helper.js';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** SIGKILL: no shutdown save, whatever was not fsynced is lost. */
  kill(): Promise<void>;
  /** Starts again on the same port and directory (its append-only file is read back). */
  start(): Promise<void>;
  client(): Redis;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startRedis(t: Test): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'mirrorgate-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const clients: Redis[] = [];
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes',
      '--appendfsync', 'always', '--dir', dir, '--logfile', join(dir, 'redis.log')], { stdio: 'ignore' });
    const c = child;
    exited = new Promise<void>((resolve) => c.on('exit', () => resolve()));
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => undefined);
    const up = await waitForAsync(async () => {
      if (probe.status !== 'ready') await probe.connect();
      return (await probe.ping()) === 'PONG';
    }, 15_000, 100);
    probe.disconnect();
    if (!up) throw new Error(`redis-server did not start on ${port}`);
  };
  const kill = async () => {
    child?.kill('SIGKILL');
    await exited;
  };
  t.teardown(async () => {
    for (const c of clients) c.disconnect();
    await kill();
    rmSync(dir, { recursive: true, force: true });
  });
  await start();
  return {
    port, url: `redis://127.0.0.1:${port}`, kill, start,
    client: () => {
      const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
  };
}

/** The repository every host holds a copy of: same names, sizes and mtimes (as rsync -t leaves them). */
export const FILES: Record<string, number> = {
  'probe.txt': 2000,
  'README.txt': 100,
  'releases/big.iso': 20 * 1024 * 1024,
  'releases/other.iso': 8 * 1024 * 1024,
};
export const MTIME = new Date('2026-01-01T00:00:00Z');

/** One host: its own directory, repository copy, database and config file (the same bytes on every host). */
export function hostFixture(t: Test, config: Record<string, unknown>): Fixture {
  const fixture = makeFixture(t, { files: {} });
  mkdirSync(fixture.repository, { recursive: true });
  writeFiles(fixture.repository, FILES, MTIME);
  writeConfig(fixture.configPath, config);
  return fixture;
}

export interface Instance {
  readonly name: string;
  readonly fixture: Fixture;
  process: ServeProcess;
  readonly base: () => string;
}

export async function startInstance(t: Test, name: string, address: string, fixture: Fixture): Promise<Instance> {
  const process = await serveProcess(t, fixture, [], ['--host', address, '--instance', name]);
  const instance: Instance = { name, fixture, process, base: () => `http://${instance.process.host}:${instance.process.port}` };
  return instance;
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  return (await res.json()) as T;
}

export interface MirrorRow { name: string; state: string; utilisation: number; effectiveMbps: number }
export interface ClusterRow {
  connected: boolean; instances: number; leases: string[]; configDrift: boolean; rejoins: number; fallbacks: number;
  members: { name: string; process: string; role: string }[];
}

export const mirrorsOf = (i: Instance) => getJson<MirrorRow[]>(`${i.base()}/_mirrorgate/mirrors`);
export const clusterOf = async (i: Instance) => (await getJson<{ cluster: ClusterRow }>(`${i.base()}/_mirrorgate/health`)).cluster;

const run = promisify(execFile);

/** `mirrorgate stats --json` with these flags: requests per target. */
export async function statsOf(args: string[]): Promise<Map<string, number>> {
  const { stdout } = await run(process.execPath, [join(PACKAGE_ROOT, 'dist/src/cli/bin.js'), 'stats', '--json', '--since', '2h', ...args]);
  const doc = JSON.parse(stdout) as { targets: { target: string; requests: number }[] };
  return new Map(doc.targets.filter((r) => r.requests > 0).map((r) => [r.target, r.requests]));
}

/** A redirect (or any answer) for `path` from one instance, not followed; `client` through the trusted X-Forwarded-For. */
export async function download(instance: Instance, path: string, client?: string): Promise<{ status: number; mirror: string }> {
  const res = await fetch(`${instance.base()}/${path}`, { redirect: 'manual', headers: client === undefined ? {} : { 'x-forwarded-for': client } });
  await res.body?.cancel();
  return { status: res.status, mirror: res.headers.get('x-mirrorgate-mirror') ?? (res.status === 200 ? '_local' : '') };
}

export function tally(into: Map<string, number>, key: string, n = 1): void {
  into.set(key, (into.get(key) ?? 0) + n);
}
