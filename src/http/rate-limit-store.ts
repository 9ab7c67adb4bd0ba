// The rate limiter's counts, as a store for @fastify/rate-limit: one window per client address, started
// by its first request. The window length is read from the current config on every call, so a reload
// changes it at once (the plugin's own timeWindow is fixed at start-up). Cheaper on the redirect path
// than the plugin's LRU store: one Map lookup, no list to reorder, no allocation for a known client.
// Bounded without sweeping: clients are kept in two generations that rotate once a window, so a client
// silent for two windows is forgotten in O(1); past MAX_CLIENTS in one generation the clients first seen
// longest ago are dropped (never everyone's window at once, which a flood of addresses could force).
// Under --workers N, `shared` adds what the other workers admitted (rate-share.ts).
import type { FastifyRateLimitOptions, FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import { dropOldest, type SharedCounts } from './rate-share.js';

interface Window {
  count: number;
  start: number;
}

/** Distinct clients remembered at once: a flood of new addresses cannot grow memory without bound. */
export const MAX_CLIENTS = 1_000_000;

type IncrCallback = Parameters<FastifyRateLimitStore['incr']>[1];

export function windowStore(
  windowMs: () => number, now: () => number = Date.now, shared?: SharedCounts, maxClients = MAX_CLIENTS,
): FastifyRateLimitStoreCtor {
  return class WindowStore implements FastifyRateLimitStore {
    private current = new Map<string, Window>();
    private previous = new Map<string, Window>();
    private rotatedAt = now();

    // The plugin passes its options; everything this store needs comes from windowMs().
    constructor(_options?: FastifyRateLimitOptions) {}

    incr(key: string, callback: IncrCallback): void {
      const at = now();
      const length = windowMs();
      if (at - this.rotatedAt >= length) {
        this.previous = this.current;
        this.current = new Map();
        this.rotatedAt = at;
      }
      let window = this.current.get(key);
      if (window === undefined) {
        window = this.previous.get(key) ?? { count: 0, start: at };
        if (this.current.size >= maxClients) dropOldest(this.current);
        this.current.set(key, window);
      }
      if (at - window.start >= length) {
        window.count = 0;
        window.start = at;
      }
      window.count += 1;
      if (shared === undefined) return callback(null, { current: window.count, ttl: window.start + length - at });
      shared.hit(key);
      callback(null, { current: window.count + shared.othersOf(key, at), ttl: window.start + length - at });
    }

    child(): FastifyRateLimitStore {
      return new WindowStore();
    }

    /** Clients remembered now, in both generations (for tests). */
    get size(): number {
      return this.current.size + this.previous.size;
    }
  };
}
