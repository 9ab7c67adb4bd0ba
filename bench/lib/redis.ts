// A redis-server for the bench's cluster comparisons (Debian's redis-server; skipped when missing), and
// how many commands it has run, from INFO commandstats.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export interface BenchRedis {
  readonly url: string;
  /** Commands run since start, every kind (those run inside Lua scripts included). */
  commands(): Promise<number>;
  /** Calls since start by command (INFO commandstats). */
  commandStats(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

export async function startBenchRedis(work: string, cpu: number | undefined): Promise<BenchRedis | undefined> {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const dir = join(work, 'redis');
  mkdirSync(dir, { recursive: true });
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  // Beside the servers on their core: Redis is part of what a shared deployment runs.
  const [command, rest] = cpu === undefined ? ['redis-server', args] : ['taskset', ['-c', String(cpu), 'redis-server', ...args]];
  let child: ChildProcess;
  try {
    child = spawn(command as string, rest as string[], { stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', () => resolve());
    });
  } catch {
    return undefined;
  }
  const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: (n) => (n > 50 ? null : 100) });
  client.on('error', () => undefined);
  await client.ping();
  const commandStats = async (): Promise<Record<string, number>> => {
    const info = await client.info('commandstats');
    const out: Record<string, number> = {};
    for (const m of info.matchAll(/cmdstat_([\w|]+):calls=(\d+)/g)) out[m[1] as string] = Number(m[2]);
    return out;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    commandStats,
    commands: async () => Object.values(await commandStats()).reduce((a, b) => a + b, 0),
    async stop() {
      client.disconnect();
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}
