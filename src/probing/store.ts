// Owns mirror_health, mirror_events and mirror_files (migrations/002): what the prober learnt, so a
// restart, another worker and `mirrorgate mirrors` know it. Written by the prober off the hot path.
import { statement, type Db } from '../db/open.js';
import type { Health, HealthState } from './health.js';
import type { CheckMethod, Evidence, EvidenceStatus } from './freshness.js';

export interface HealthRow {
  readonly mirror: string;
  readonly state: HealthState;
  readonly reason: string;
  readonly since: number;
  readonly checked_at: number;
  readonly latency_ms: number | null;
  readonly capacity_mbps: number | null;
  readonly sync_stamp: number | null;
}

export interface EventRow {
  readonly at: number;
  readonly mirror: string;
  readonly from_state: string;
  readonly to_state: string;
  readonly reason: string;
}

export class ProbeStore {
  // Statements are looked up per use (a Map lookup), not held: the connection behind `db` can be replaced (DbFile).
  constructor(private readonly db: Db) {}

  private get allHealth() {
    return statement(this.db, 'SELECT * FROM mirror_health');
  }

  private get evidenceFrom() {
    return statement(this.db, 'SELECT mirror, path, status, size, mtime_ms, ctime_ms, checked_at, method, detail FROM mirror_files WHERE checked_at >= ?');
  }

  private get upsertHealth() {
    return statement(this.db, `INSERT INTO mirror_health (mirror, state, reason, since, checked_at, latency_ms, capacity_mbps, sync_stamp)
      VALUES (@mirror, @state, @reason, @since, @checked_at, @latency_ms, @capacity_mbps, @sync_stamp)
      ON CONFLICT(mirror) DO UPDATE SET state = excluded.state, reason = excluded.reason, since = excluded.since,
        checked_at = excluded.checked_at, latency_ms = excluded.latency_ms, capacity_mbps = excluded.capacity_mbps,
        sync_stamp = excluded.sync_stamp`);
  }

  private get insertEvent() {
    return statement(this.db, 'INSERT INTO mirror_events (at, mirror, from_state, to_state, reason) VALUES (?, ?, ?, ?, ?)');
  }

  private get upsertEvidence() {
    return statement(this.db, `INSERT INTO mirror_files (mirror, path, status, size, mtime_ms, ctime_ms, checked_at, method, detail)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(mirror, path) DO UPDATE SET status = excluded.status, size = excluded.size, mtime_ms = excluded.mtime_ms,
        ctime_ms = excluded.ctime_ms, checked_at = excluded.checked_at, method = excluded.method, detail = excluded.detail`);
  }

  saveHealth(mirror: string, h: Health, capacityMbps: number, syncStamp: number | undefined): void {
    this.upsertHealth.run({
      mirror, state: h.state, reason: h.reason, since: h.since, checked_at: h.checkedAt,
      latency_ms: h.latencyMs ?? null, capacity_mbps: capacityMbps, sync_stamp: syncStamp ?? null,
    });
  }

  saveTransition(mirror: string, from: HealthState, to: Health): void {
    this.insertEvent.run(to.since, mirror, from, to.state, to.reason);
  }

  saveEvidence(mirror: string, path: string, e: Evidence): void {
    this.upsertEvidence.run(mirror, path, e.status, e.size, e.mtimeMs, e.ctimeMs, e.checkedAt, e.method, e.detail);
  }

  healthRows(): HealthRow[] {
    return this.allHealth.all() as HealthRow[];
  }

  recentEvents(limit: number): EventRow[] {
    return statement(this.db, 'SELECT * FROM mirror_events ORDER BY at DESC LIMIT ?').all(limit) as EventRow[];
  }

  /** Every mirror's evidence about one path (for `mirrorgate explain`). */
  evidenceFor(path: string): { mirror: string; evidence: Evidence }[] {
    const rows = statement(this.db, 'SELECT mirror, path, status, size, mtime_ms, ctime_ms, checked_at, method, detail FROM mirror_files WHERE path = ?').all(path) as EvidenceDbRow[];
    return rows.map((r) => ({ mirror: r.mirror, evidence: fromRow(r) }));
  }

  /** Evidence checked at or after `since` (0: all), for loading at start and for workers catching up. */
  *evidenceSince(since: number): Generator<{ mirror: string; path: string; evidence: Evidence }> {
    // .all(), never .iterate(): see db/statements.ts (an iterator left to the GC aborts Node 24).
    const rows = this.evidenceFrom.all(since) as EvidenceDbRow[];
    for (const r of rows) yield { mirror: r.mirror, path: r.path, evidence: fromRow(r) };
  }
}

interface EvidenceDbRow {
  mirror: string; path: string; status: EvidenceStatus; size: number; mtime_ms: number; ctime_ms: number; checked_at: number; method: CheckMethod; detail: string;
}

function fromRow(r: EvidenceDbRow): Evidence {
  return { status: r.status, size: r.size, mtimeMs: r.mtime_ms, ctimeMs: r.ctime_ms, checkedAt: r.checked_at, method: r.method, detail: r.detail };
}
