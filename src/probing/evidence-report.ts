// What mirrorgate knows about each mirror's copy of one file, for `mirrorgate explain` and
// GET /_mirrorgate/explain: the evidence behind each verdict, and whether it is about the repository's
// current copy (evidence about an older copy counts for nothing).
import type { Mirror } from '../config/load.js';
import { sameCopy } from '../catalog/catalog.js';
import type { Evidence, FileRef } from './freshness.js';

export interface EvidenceRow {
  readonly mirror: string;
  /** 'none': never checked; 'other-copy': checked, but against a copy the repository no longer has. */
  readonly evidence: Evidence['status'] | 'none' | 'other-copy';
  readonly method: Evidence['method'] | null;
  readonly detail: string;
  readonly checkedAt: string | null;
  /** The mirror's sync stamp vouches for the file (older than its last complete sync). */
  readonly vouchedBySyncStamp: boolean;
}

export function evidenceRows(
  mirrors: readonly Mirror[],
  file: FileRef,
  stateOf: (name: string) => { readonly evidence: ReadonlyMap<string, Evidence>; readonly syncStamp: number | undefined },
): EvidenceRow[] {
  return mirrors.map((m) => {
    const state = stateOf(m.name);
    const e = state.evidence.get(file.path);
    const vouchedBySyncStamp = state.syncStamp !== undefined && file.mtimeMs < state.syncStamp;
    if (e === undefined) return { mirror: m.name, evidence: 'none', method: null, detail: 'not checked', checkedAt: null, vouchedBySyncStamp };
    const current = sameCopy(e, file);
    return {
      mirror: m.name,
      evidence: current ? e.status : 'other-copy',
      method: e.method,
      detail: current ? e.detail : `${e.detail} (about the copy of ${e.size} bytes, mtime ${new Date(e.mtimeMs).toISOString()})`,
      checkedAt: new Date(e.checkedAt).toISOString(),
      vouchedBySyncStamp,
    };
  });
}
