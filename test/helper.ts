// Shared test fixtures: a temporary repository and config, an app built on them, a seeded random.
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, truncateSync, utimesSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Test } from 'tap';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import type { Log } from '../src/log.js';

export interface Fixture {
  readonly dir: string;
  readonly repository: string;
  readonly configPath: string;
  readonly dbPath: string;
}

export interface FixtureOptions {
  /** Files to create: path → size in bytes (sparse above 64 KiB). */
  readonly files?: Record<string, number>;
  /** Extra or replaced top-level config keys. */
  readonly config?: Record<string, unknown>;
}

export const DEFAULT_FILES: Record<string, number> = {
  'README.txt': 100,
  'releases/1.0/big.iso': 10 * 1024 * 1024,
  'releases/1.0/medium.tar.gz': 8192,
  'releases/1.0/with space+plus.iso': 5000,
  'pool/ü/ünïcode.deb': 6000,
};

export const DEFAULT_MIRRORS = [
  { name: 'eu', url: 'https://eu.example.org/pub/', weight: 100, country: 'DE' },
  { name: 'us', url: 'https://us.example.org/', weight: 100, country: 'US' },
];

export function writeFiles(root: string, files: Record<string, number>, mtime?: Date): void {
  for (const [path, size] of Object.entries(files)) {
    const file = join(root, path);
    mkdirSync(dirname(file), { recursive: true });
    if (size > 65536) {
      writeFileSync(file, '');
      truncateSync(file, size);
    } else {
      writeFileSync(file, Buffer.alloc(size, path.length % 251));
    }
    if (mtime) utimesSync(file, mtime, mtime);
  }
}

/**
 * A new directory under the system's temporary one, removed when the test ends. Servers are gone before
 * that (stopGroup), but a process the test did not start through the helpers may still write there while it
 * dies. rmSync's own retries only retry the last rmdir, never the entries that appeared since its listing,
 * so the whole removal is retried until it succeeds.
 */
export function tempDir(t: Test, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `mirrorgate-${prefix}-`));
  t.teardown(async () => {
    let last: unknown;
    const removed = await waitFor(() => {
      try {
        rmSync(dir, { recursive: true, force: true });
        return true;
      } catch (err) {
        last = err;
        return false;
      }
    }, 30_000, 100);
    if (!removed) throw last;
  });
  return dir;
}

export function makeFixture(t: Test, options: FixtureOptions = {}): Fixture {
  const dir = tempDir(t, 'test');
  const repository = join(dir, 'repository');
  mkdirSync(repository);
  writeFiles(repository, options.files ?? DEFAULT_FILES);
  const configPath = join(dir, 'mirrors.json');
  // Probing is off unless a test turns it on: most tests use mirrors that do not exist.
  writeConfig(configPath, { mirrors: DEFAULT_MIRRORS, probe: { enabled: false }, ...options.config });
  return { dir, repository, configPath, dbPath: join(dir, 'mirrorgate.db') };
}

export function writeConfig(configPath: string, config: Record<string, unknown>): void {
  writeFileSync(configPath, JSON.stringify({ repository: './repository', probe: { enabled: false }, ...config }, null, 2));
}

/** An app on a fresh fixture (or the given one), closed when the test ends. */
export async function build(t: Test, options: FixtureOptions & { fixture?: Fixture; random?: () => number; log?: Log } = {}) {
  const fixture = options.fixture ?? makeFixture(t, options);
  const app: FastifyInstance = await buildApp({
    configPath: fixture.configPath,
    dbPath: fixture.dbPath,
    random: options.random,
    log: options.log,
  });
  t.teardown(() => app.close());
  return { app, fixture };
}

/** mulberry32: a small, fast, seeded PRNG for reproducible selection tests. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export async function waitFor(check: () => boolean, timeoutMs = 5000, stepMs = 20): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return check();
}

export interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** Everything the server sent, as text. */
  readonly raw: string;
}

/**
 * Sends `request` byte for byte over a new TCP connection (no client library normalises anything) and
 * reads until the server closes or `idleMs` passes without data. status 0: the server sent nothing.
 */
export async function rawRequest(port: number, request: string | Buffer, idleMs = 2000, host = '127.0.0.1'): Promise<RawAnswer> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ port, host });
    const done = () => {
      socket.destroy();
      const raw = Buffer.concat(chunks).toString('latin1');
      const [head = '', ...rest] = raw.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, body: rest.join('\r\n\r\n'), raw });
    };
    socket.setTimeout(idleMs, done);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('close', done);
    socket.on('error', () => undefined);
    socket.write(request);
  });
}

/** waitFor with an asynchronous check (an HTTP request, say); a check that throws counts as false. */
export async function waitForAsync(check: () => Promise<boolean>, timeoutMs = 5000, stepMs = 50): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return true;
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/**
 * SIGKILL to every process of a server spawned with `detached: true` (its own group), then waits until none
 * of them runs. Killing only the primary leaves its workers alive until they read the closed IPC channel,
 * and a worker that finds the database file gone makes it anew (runtime checkDatabase): in the middle of
 * the fixture's removal, when the test is over.
 */
export async function stopGroup(child: ChildProcess): Promise<void> {
  const pgid = child.pid;
  if (pgid === undefined) return;
  const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve));
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // ESRCH: every process of the group has exited already
  }
  await exited;
  if (!(await waitFor(() => runningInGroup(pgid) === 0, 30_000, 50))) throw new Error(`processes of group ${pgid} outlived SIGKILL`);
}

/** How many processes of the group are running: an exited one not yet reaped by its new parent (Z) is not. */
function runningInGroup(pgid: number): number {
  let running = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while listed
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so fields are read after the last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') running += 1;
  }
  return running;
}

export interface ServeProcess {
  /** The 127/8 address it listens on (--host in `extra`; default 127.0.0.1). */
  readonly host: string;
  readonly child: ChildProcess;
  readonly port: number;
  /** Everything the process has printed so far. */
  output(): string;
}

/**
 * `mirrorgate serve` on the fixture as its own process on 127.0.0.1 (port 0), killed when the test ends;
 * `prefix` runs it under another command (`prlimit --nofile=1024:1024`), `extra` are more flags. Waits until it listens.
 */
export async function serveProcess(t: Test, fixture: Fixture, prefix: string[] = [], extra: string[] = []): Promise<ServeProcess> {
  const { spawn } = await import('node:child_process');
  const { PACKAGE_ROOT } = await import('../src/paths.js');
  const args = [process.execPath, join(PACKAGE_ROOT, 'dist/src/cli/bin.js'), 'serve', '--config', fixture.configPath, '--db', fixture.dbPath,
    '--host', '127.0.0.1', '--port', '0', '--log-level', 'info', ...extra];
  const [command = '', ...rest] = [...prefix, ...args];
  // Its own process group, so that the primary, its workers and a scan child are killed together.
  const child = spawn(command, rest, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  t.teardown(() => stopGroup(child));
  let output = '';
  child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
  let port = 0;
  let host = '127.0.0.1';
  await waitFor(() => {
    const listening = /Server listening at http:\/\/(127\.\d+\.\d+\.\d+):(\d+)/.exec(output);
    host = listening?.[1] ?? host;
    port = Number(listening?.[2] ?? 0);
    return port !== 0 || child.exitCode !== null;
  }, 20_000);
  if (port === 0) throw new Error(`mirrorgate serve did not start:\n${output}`);
  return { child, port, host, output: () => output };
}
