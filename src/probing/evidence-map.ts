// A mirror's per-file evidence (path → Evidence), counting its verdicts as entries are set: the
// dashboard shows how many copies were found fresh, stale and missing without walking the map, which
// can hold an entry for every file the mirror was ever checked for.
import type { Evidence, EvidenceStatus } from './freshness.js';

export class EvidenceMap extends Map<string, Evidence> {
  readonly counts: Record<EvidenceStatus, number> = { fresh: 0, stale: 0, missing: 0 };

  override set(path: string, evidence: Evidence): this {
    const before = super.get(path);
    if (before !== undefined) this.counts[before.status] -= 1;
    this.counts[evidence.status] += 1;
    return super.set(path, evidence);
  }

  override delete(path: string): boolean {
    const before = super.get(path);
    if (before !== undefined) this.counts[before.status] -= 1;
    return super.delete(path);
  }

  override clear(): void {
    this.counts.fresh = 0;
    this.counts.stale = 0;
    this.counts.missing = 0;
    super.clear();
  }
}
