// The cluster's request and byte totals, per target and hour, kept in Redis beside each instance's own
// SQLite counters. Counts wait here, summed per (hour, target), until Redis has taken them: one batch
// at a time, each with an id that Redis remembers (TOTALS_SCRIPT), so a batch whose answer was lost is
// sent again and added once. The buffer is bounded: past MAX_PENDING rows the oldest hours are dropped
// and counted (the SQLite counters still have them).
import type { MinuteTally } from '../counters/counters.js';
import { Keys } from './keys.js';
import { openRedis, redisAddress, type ClusterConfig } from './connect.js';
import { errors } from '../errors.js';
import type { Log } from '../log.js';

/** (hour, target) rows waiting at most: 48 hours of 2,000 targets. */
export const MAX_PENDING = 96_000;
/** How long Redis remembers a batch's id: any retry comes long before. */
export const BATCH_MARKER_MS = 7 * 24 * 3600_000;

export interface Batch {
  readonly id: string;
  /** The marker key, then the script's arguments. */
  readonly keys: [string];
  readonly args: (string | number)[];
  readonly rows: number;
}

interface Row { hour: number; target: string; requests: number; bytes: number }

export class TotalsBuffer {
  private pending = new Map<string, Row>();
  private inFlight: Batch | undefined;
  private seq = 0;
  /** Rows dropped because the buffer was full (Redis away for days). */
  dropped = 0;

  constructor(private readonly keys: Keys, private readonly processId: string, private readonly keepSeconds: () => number) {}

  /** What the counters flushed to SQLite: the same counts, summed per hour. */
  add(tallies: readonly MinuteTally[]): void {
    for (const t of tallies) {
      const hour = Math.floor(t.minute / 60) * 3600;
      const key = `${hour}\n${t.target}`;
      const row = this.pending.get(key);
      if (row !== undefined) {
        row.requests += t.requests;
        row.bytes += t.bytes;
      } else {
        this.pending.set(key, { hour, target: t.target, requests: t.requests, bytes: t.bytes });
      }
    }
    this.bound();
  }

  /** Rows not yet taken by Redis (the batch in flight included). */
  get size(): number {
    return this.pending.size + (this.inFlight?.rows ?? 0);
  }

  /** The batch to send: the one in flight again (same id) until acknowledged, else a new one; undefined when nothing waits. */
  next(): Batch | undefined {
    if (this.inFlight !== undefined) return this.inFlight;
    if (this.pending.size === 0) return undefined;
    const args: (string | number)[] = [BATCH_MARKER_MS, this.keepSeconds()];
    for (const r of this.pending.values()) {
      const hash = this.keys.totalsHour(r.hour);
      args.push(hash, `requests:${r.target}`, r.requests, hash, `bytes:${r.target}`, r.bytes);
    }
    const id = `${this.processId}:${this.seq++}`;
    this.inFlight = { id, keys: [this.keys.batch(id)], args, rows: this.pending.size };
    this.pending = new Map();
    return this.inFlight;
  }

  /** Redis answered for `batch`: added now or before. */
  acknowledge(batch: Batch): void {
    if (this.inFlight === batch) this.inFlight = undefined;
  }

  private bound(): void {
    if (this.pending.size <= MAX_PENDING) return;
    const rows = [...this.pending.entries()].sort((a, b) => a[1].hour - b[1].hour);
    for (const [key] of rows.slice(0, this.pending.size - MAX_PENDING)) {
      this.pending.delete(key);
      this.dropped += 1;
    }
  }
}

/** The cluster's totals per target between two times, from the hours' hashes (for `mirrorgate stats --cluster`). */
export function sumTotals(hours: readonly (Record<string, string> | null)[]): Map<string, { requests: number; bytes: number }> {
  const out = new Map<string, { requests: number; bytes: number }>();
  for (const hash of hours) {
    if (hash === null) continue;
    for (const [field, value] of Object.entries(hash)) {
      const colon = field.indexOf(':');
      const kind = field.slice(0, colon);
      const target = field.slice(colon + 1);
      let row = out.get(target);
      if (row === undefined) out.set(target, row = { requests: 0, bytes: 0 });
      if (kind === 'requests') row.requests += Number(value);
      else if (kind === 'bytes') row.bytes += Number(value);
    }
  }
  return out;
}

/**
 * The cluster's totals per target from `sinceMs` to `nowMs` (whole hours: the span starts at the top
 * of the hour it begins in), read from Redis for `mirrorgate stats --cluster`.
 */
export async function readClusterTotals(cluster: ClusterConfig, sinceMs: number, nowMs: number, log: Log): Promise<Map<string, { requests: number; bytes: number }>> {
  const redis = openRedis(cluster, 'stats', log, { lazyConnect: true, retryStrategy: () => null });
  try {
    await redis.connect();
    const keys = new Keys(cluster.keyPrefix);
    const pipe = redis.pipeline();
    for (let hour = Math.floor(sinceMs / 3_600_000) * 3600; hour * 1000 <= nowMs; hour += 3600) pipe.hgetall(keys.totalsHour(hour));
    const results = (await pipe.exec()) ?? [];
    const failed = results.find(([err]) => err !== null);
    if (failed !== undefined) throw failed[0] as Error;
    return sumTotals(results.map(([, hash]) => hash as Record<string, string>));
  } catch (err) {
    throw new errors.MG_ERR_CLUSTER_UNREACHABLE(redisAddress(cluster), (err as Error).message);
  } finally {
    redis.disconnect();
  }
}
