// What one client, or all of them, may hold open. Node's HTTP server has the timeouts but ships them
// loose (requestTimeout 0 under Fastify: a slow body never expires) and has no cap per client. Here:
// every timeout from the config, a cap on connections per client address (trusted proxies exempt: their
// clients are behind them), and a global cap below the process's open-file limit, so that a flood of
// connections can never starve the probes of file descriptors. A reload applies to new connections.
import { readFileSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import type { Config } from '../config/load.js';
import type { TrustList } from './trust-list.js';
import { clientKey, normalizeIp } from './ip.js';

/** How often Node looks for requests past headersTimeout / requestTimeout (its default is 30 s). */
export const TIMEOUT_CHECK_MS = 1000;
/** File descriptors kept back for everything but client connections: SQLite, logs, IPC, the watcher. */
const RESERVED_FDS = 128;

export interface Guarded {
  readonly config: Config;
  readonly trusted: TrustList;
}

export class ConnectionGuard {
  /** Open connections per client key. */
  private readonly open = new Map<string, number>();
  private applied: Config | undefined;
  /** Connections closed at once because their client already had its share open. */
  refusedPerClient = 0;
  /** Connections closed at once because the server was at maxConnections. */
  refusedTotal = 0;

  constructor(private readonly server: HttpServer, private readonly current: () => Guarded) {
    server.on('connection', (socket: Socket) => this.admit(socket));
    (server as Server).on('drop', () => { this.refusedTotal += 1; });
    this.apply(current().config);
  }

  /** The global cap in force. */
  get maxConnections(): number {
    return this.server.maxConnections;
  }

  private apply(config: Config): void {
    const http = config.http;
    this.server.headersTimeout = http.headersTimeoutMs;
    this.server.requestTimeout = http.requestTimeoutMs;
    this.server.keepAliveTimeout = http.keepAliveTimeoutMs;
    this.server.timeout = http.idleTimeoutMs;
    this.server.maxConnections = http.maxConnections > 0 ? http.maxConnections : automaticMaxConnections(config);
    this.applied = config;
  }

  private admit(socket: Socket): void {
    const { config, trusted } = this.current();
    if (config !== this.applied) this.apply(config);
    const cap = config.http.maxConnectionsPerClient;
    if (cap === 0) return;
    const address = normalizeIp(socket.remoteAddress ?? '');
    if (address === '' || trusted.has(address)) return;
    const key = clientKey(address, config.rateLimit.ipv6PrefixLength);
    const open = this.open.get(key) ?? 0;
    if (open >= cap) {
      this.refusedPerClient += 1;
      socket.destroy();
      return;
    }
    this.open.set(key, open + 1);
    socket.once('close', () => {
      const left = (this.open.get(key) ?? 1) - 1;
      if (left <= 0) this.open.delete(key);
      else this.open.set(key, left);
    });
  }
}

/**
 * The open-file limit less what the rest of mirrorgate may hold at once: probes, content checks (each
 * up to samples + 2 ranges at once) and RESERVED_FDS. Never below 64.
 */
export function automaticMaxConnections(config: Config, limit = openFileLimit()): number {
  const checks = (config.freshness.concurrency + config.freshness.urgentChecks) * (config.freshness.samples + 2);
  return Math.max(64, limit - RESERVED_FDS - 2 * config.probe.concurrency - checks);
}

/** The soft RLIMIT_NOFILE, from /proc (Linux); 1024, the usual default, where it cannot be read. */
export function openFileLimit(): number {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (line?.[1] === 'unlimited') return 1_048_576;
    return line === null ? 1024 : Number(line[1]);
  } catch {
    return 1024;
  }
}
