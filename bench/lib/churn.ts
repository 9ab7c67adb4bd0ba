// The bench's churn figures (issue: correct bytes under churn):
// - cold start: a fresh server, 10 mirrors, 20 new large files, 1,000 clients at once: the share of bytes
//   the repository itself would send, and the latency the first-request wait adds (against a second,
//   warm wave of the same requests);
// - what content checks cost each mirror per hour at 100,000 files, from the rules and the catalog;
// - the watcher at scale: set-up time, memory (RSS with the watch on minus off) and the time from a
//   change on disk to the catalog.
import { Agent, request } from 'node:http';
import { closeSync, ftruncateSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generateRepository, mirrorsFor } from './fixtures.js';
import { firstRedirect, rssBytes, startProcess, type Server } from './processes.js';

const LISTENING = /Server listening at (http:\/\/[\d.:]+)/;

interface Answer { status: number; mirror: string; ms: number; bytes: number }

/** One GET, as a client that reads only the head: a 200's bytes are the file's size (what would be sent). */
function get(agent: Agent, base: string, path: string, client: string, size: number): Promise<Answer> {
  const url = new URL(`${base}/${path}`);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, agent, headers: { 'x-forwarded-for': client } }, (res) => {
      const ms = performance.now() - started;
      const status = res.statusCode ?? 0;
      res.destroy();
      resolve({ status, mirror: String(res.headers['x-mirrorgate-mirror']), ms, bytes: status === 200 ? size : 0 });
    });
    req.on('error', reject);
    req.end();
  });
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

export interface ColdStartResult {
  readonly clients: number;
  readonly files: number;
  readonly mirrors: number;
  readonly redirects: number;
  readonly servedLocally: number;
  readonly repositoryByteShare: number;
  readonly cold: { p50Ms: number; p99Ms: number };
  readonly warm: { p50Ms: number; p99Ms: number };
  readonly addedByWait: { p50Ms: number; p99Ms: number };
  readonly checkBytesPerMirror: number;
}

export async function coldStart(bin: string, work: string, options = { clients: 1000, files: 20, mirrors: 10, fileBytes: 4 * 2 ** 30 }): Promise<ColdStartResult> {
  const repository = join(work, 'cold-repo');
  rmSync(repository, { recursive: true, force: true });
  mkdirSync(join(repository, 'releases'), { recursive: true });
  writeFileSync(join(repository, 'probe.txt'), 'x'.repeat(5000));
  const paths: string[] = [];
  for (let i = 0; i < options.files; i++) {
    const path = `releases/image-${i}.iso`;
    const fd = openSync(join(repository, path), 'w');
    ftruncateSync(fd, options.fileBytes); // a 4 GiB release image, sparse
    closeSync(fd);
    paths.push(path);
  }
  const stubs = await startProcess('stubs', [join(dirname(bin), '../../bench/mirror-stubs.js'), repository, String(options.mirrors)], /^stubs (.*)$/m);
  const urls = JSON.parse(stubs.url) as string[];
  const config = join(work, 'cold.json');
  writeFileSync(config, JSON.stringify({
    repository,
    rateLimit: { enabled: false },
    catalog: { rescanSeconds: 0, hashConcurrency: 0 },
    probe: { enabled: true, intervalSeconds: 30 },
    mirrors: mirrorsFor(urls, { probePath: 'probe.txt' }),
  }));
  const db = join(work, 'cold.db');
  rmSync(db, { force: true });
  let server: Server | undefined;
  try {
    server = await startProcess('cold', [bin, 'serve', '--config', config, '--db', db, '--port', '0', '--log-level', 'info'], LISTENING);
    // Each wave on new connections, so the two differ only in what the server knew.
    const wave = async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: options.clients });
      const answers = await Promise.all(Array.from({ length: options.clients }, (_, i) =>
        get(agent, (server as Server).url, paths[i % paths.length] as string, `81.2.${Math.floor(i / 250)}.${1 + (i % 250)}`, options.fileBytes)));
      agent.destroy();
      return answers;
    };
    const cold = await wave();
    const warm = await wave();
    const metrics = await (await fetch(`${server.url}/_mirrorgate/metrics`)).text();
    const spent = [...metrics.matchAll(/^mirrorgate_check_bytes_total\{mirror="[^"]+"\} (\d+)$/gm)].map((m) => Number(m[1]));
    const bytes = cold.reduce((s, a) => s + a.bytes, 0);
    const coldMs = cold.map((a) => a.ms);
    const warmMs = warm.map((a) => a.ms);
    return {
      clients: options.clients, files: options.files, mirrors: options.mirrors,
      redirects: cold.filter((a) => a.status === 302).length,
      servedLocally: cold.filter((a) => a.status === 200).length,
      repositoryByteShare: bytes / (options.clients * options.fileBytes),
      cold: { p50Ms: percentile(coldMs, 0.5), p99Ms: percentile(coldMs, 0.99) },
      warm: { p50Ms: percentile(warmMs, 0.5), p99Ms: percentile(warmMs, 0.99) },
      addedByWait: { p50Ms: percentile(coldMs, 0.5) - percentile(warmMs, 0.5), p99Ms: percentile(coldMs, 0.99) - percentile(warmMs, 0.99) },
      checkBytesPerMirror: spent.length === 0 ? 0 : spent.reduce((a, b) => a + b, 0) / spent.length,
    };
  } finally {
    await server?.stop();
    await stubs.stop();
  }
}

export interface CheckCostResult {
  readonly files: number;
  readonly sampledFiles: number;
  readonly wholeFiles: number;
  /** Every file requested once in every recheck window (6 h for files older than an hour): the most checks can cost. */
  readonly bytesPerHourPerMirror: number;
  /** The same with every file young (re-checked every 5 minutes). */
  readonly youngBytesPerHourPerMirror: number;
  readonly budgetBytesPerHour: number;
}

/** What content checks cost each mirror, from the default rules and the generated catalog's sizes. */
export function checkCost(files: number): CheckCostResult {
  const CONTENT_CHECK_BYTES = 1 << 20;
  const SAMPLE = 4096 * 4; // head, tail and two random ranges
  let sampled = 0;
  let whole = 0;
  let perCheck = 0;
  for (let i = 0; i < files; i++) {
    const size = 65536 + (i % 4096) * 4096; // generateRepository's sizes
    if (size <= CONTENT_CHECK_BYTES) {
      whole += 1;
      perCheck += size;
    } else {
      sampled += 1;
      perCheck += SAMPLE;
    }
  }
  return {
    files, sampledFiles: sampled, wholeFiles: whole,
    bytesPerHourPerMirror: perCheck * (3600 / 21600),
    youngBytesPerHourPerMirror: perCheck * (3600 / 300),
    budgetBytesPerHour: 2 ** 30,
  };
}

export interface WatchResult {
  readonly files: number;
  readonly directories: number;
  readonly setupMs: number;
  readonly rssWatchBytes: number;
  readonly rssNoWatchBytes: number;
  readonly changeToCatalogMs: { p50: number; p99: number; max: number };
}

/** The watcher over a generated repository of `files` files: set-up, memory and change-to-catalog time. */
export async function watchCost(bin: string, work: string, files: number): Promise<WatchResult> {
  const repository = join(work, `repo-${files}`);
  const paths = generateRepository(repository, files);
  const run = async (watch: boolean) => {
    const config = join(work, `watch-${watch}.json`);
    writeFileSync(config, JSON.stringify({ repository, catalog: { rescanSeconds: 0, hashConcurrency: 0, watch }, probe: { enabled: false }, mirrors: mirrorsFor(['http://127.0.0.1:9/']) }));
    const server = await startProcess(`watch-${watch}`, [bin, 'serve', '--config', config, '--db', join(work, `watch-${files}.db`), '--port', '0', '--log-level', 'info'], LISTENING);
    return server;
  };
  const off = await run(false);
  await firstRedirect(off.url, paths[0] as string);
  await new Promise((r) => setTimeout(r, 2000));
  const rssNoWatchBytes = rssBytes(off.child.pid as number);
  await off.stop();
  const on = await run(true);
  try {
    await firstRedirect(on.url, paths[0] as string);
    let health: { watch: { directories: number; ms: number } | null };
    for (;;) {
      health = await (await fetch(`${on.url}/_mirrorgate/health`)).json() as typeof health;
      if (health.watch !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 2000));
    const rssWatchBytes = rssBytes(on.child.pid as number);
    const took: number[] = [];
    for (let i = 0; i < 30; i++) {
      const dir = (paths[(i * 7919) % paths.length] as string).replace(/\/[^/]+$/, '');
      const name = `new-${Date.now()}-${i}.deb`;
      const started = performance.now();
      writeFileSync(join(repository, dir, `.${name}.tmp`), 'x'.repeat(1000));
      renameSync(join(repository, dir, `.${name}.tmp`), join(repository, dir, name)); // as rsync does
      for (;;) {
        const res = await fetch(`${on.url}/_mirrorgate/explain?path=${encodeURIComponent(`${dir}/${name}`)}`);
        await res.arrayBuffer();
        if (res.status === 200) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      took.push(performance.now() - started);
      rmSync(join(repository, dir, name));
    }
    return {
      files, directories: health.watch?.directories ?? 0, setupMs: health.watch?.ms ?? NaN,
      rssWatchBytes, rssNoWatchBytes,
      changeToCatalogMs: { p50: percentile(took, 0.5), p99: percentile(took, 0.99), max: Math.max(...took) },
    };
  } finally {
    await on.stop();
  }
}
