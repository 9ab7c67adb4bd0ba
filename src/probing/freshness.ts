// PURE: whether a mirror holds the repository's current copy of a file. Evidence comes from fetching the
// mirror's copy, and is only evidence for the repository copy (size, mtime, ctime) it was taken against:
// a file rebuilt under the same name makes old evidence worthless. Metadata alone never proves a copy
// fresh (rsync without -t, a touched file, a rebuilt artefact all lie in it): small and volatile files
// are compared by the sha256 of the whole copy, large ones by byte ranges sampled at the head, the tail
// and random offsets. A mirror's sync timestamp vouches for every file older than it without a per-file
// check. docs/selection.md states these rules.
import type { FileStat } from '../catalog/catalog.js';

export type EvidenceStatus = 'fresh' | 'stale' | 'missing';
/** How the copy was judged: its whole sha256, sampled ranges, or the answer's status and size alone. */
export type CheckMethod = 'sha256' | 'samples' | 'head';

export interface Evidence {
  readonly status: EvidenceStatus;
  /** The repository copy this evidence is about. */
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly checkedAt: number;
  readonly method: CheckMethod;
  readonly detail: string;
}

export interface FileRef extends FileStat {
  readonly path: string;
}

export type FileVerdict =
  | { readonly ok: true; readonly recheck: boolean }
  | { readonly ok: false; readonly reason: 'missing' | 'stale' | 'unverified'; readonly recheck: boolean };

export interface FreshnessRules {
  readonly youngFileSeconds: number;
  readonly youngRecheckSeconds: number;
  readonly oldRecheckSeconds: number;
  readonly volatileMaxAgeSeconds: number;
  readonly contentCheckBytes: number;
  readonly sampleBytes: number;
  readonly samples: number;
}

/** A byte range of the file: [offset, offset + length). */
export interface ByteRange {
  readonly offset: number;
  readonly length: number;
}

/** What a check fetches: the whole copy (hashed), or these ranges (compared with ours). */
export type CheckPlan =
  | { readonly method: 'sha256' }
  | { readonly method: 'samples'; readonly ranges: readonly ByteRange[] };

/** Volatile files and files up to contentCheckBytes: the whole copy; larger ones: head, tail and `samples` random ranges. */
export function planCheck(file: FileStat, volatile: boolean, rules: FreshnessRules, random: () => number): CheckPlan {
  if (volatile || file.size <= rules.contentCheckBytes || file.size <= 2 * rules.sampleBytes) return { method: 'sha256' };
  const length = rules.sampleBytes;
  const ranges: ByteRange[] = [{ offset: 0, length }, { offset: file.size - length, length }];
  for (let i = 0; i < rules.samples; i++) {
    ranges.push({ offset: Math.floor(random() * (file.size - length)), length });
  }
  return { method: 'samples', ranges };
}

/** What fetching the mirror's copy showed; `content` is absent when the answer already settled it. */
export type Observation =
  | { readonly ok: false }
  | {
    readonly ok: true;
    /** The HTTP status of the (first) answer. */
    readonly status: number;
    /** The copy's size as the mirror states it (Content-Length, Content-Range) or as received. */
    readonly size: number | undefined;
    readonly lastModified: number | undefined;
    readonly content?:
      | { readonly method: 'sha256'; readonly matches: boolean }
      | { readonly method: 'samples'; readonly ranges: number; readonly mismatchAt: number | undefined }
      /** Content could not be compared (a server ignoring Range): never fresh on metadata alone. */
      | { readonly method: 'none'; readonly why: string };
  };

/**
 * The evidence a check yields; undefined when it says nothing (timeout, 5xx): try again later.
 * A volatile file must also carry the repository's Last-Modified (to the second): clients revalidate it
 * with If-Modified-Since, and a copy dated otherwise (a mirror syncing without rsync -t) would make a
 * client's date from one server meaningless to another: a wrong 304 leaves it with an old index.
 */
export function judgeCopy(seen: Observation, file: FileStat, now: number, volatile?: { readonly lastModifiedSeconds: number }): Evidence | undefined {
  const base = { size: file.size, mtimeMs: file.mtimeMs, ctimeMs: file.ctimeMs, checkedAt: now };
  if (!seen.ok) return undefined;
  if (seen.status === 404 || seen.status === 410) return { ...base, status: 'missing', method: 'head', detail: `HTTP ${seen.status}` };
  if (seen.status !== 200 && seen.status !== 206) return undefined;
  if (seen.size !== undefined && seen.size !== file.size) return { ...base, status: 'stale', method: 'head', detail: `size ${seen.size} != ${file.size}` };
  const content = seen.content;
  if (content === undefined) return undefined;
  if (content.method === 'none') return { ...base, status: 'stale', method: 'head', detail: `content not verifiable: ${content.why}` };
  const mtimeSeconds = Math.floor(file.mtimeMs / 1000) * 1000;
  if (content.method === 'sha256') {
    if (!content.matches) return { ...base, status: 'stale', method: 'sha256', detail: 'sha256 differs' };
    const ours = volatile === undefined ? undefined : volatile.lastModifiedSeconds * 1000;
    if (ours !== undefined && seen.lastModified !== ours) {
      const said = seen.lastModified === undefined ? 'none' : new Date(seen.lastModified).toISOString();
      return { ...base, status: 'stale', method: 'sha256', detail: `sha256 matches, but Last-Modified ${said} is not ${new Date(ours).toISOString()}: revalidation would mislead clients` };
    }
    return { ...base, status: 'fresh', method: 'sha256', detail: 'sha256 matches' };
  }
  if (content.mismatchAt !== undefined) return { ...base, status: 'stale', method: 'samples', detail: `bytes differ at offset ${content.mismatchAt}` };
  // Samples cannot prove two copies equal; a copy that says it is older than ours is taken at its word.
  if (seen.lastModified !== undefined && seen.lastModified < mtimeSeconds) {
    return { ...base, status: 'stale', method: 'samples', detail: `Last-Modified ${new Date(seen.lastModified).toISOString()} older than ${new Date(mtimeSeconds).toISOString()}` };
  }
  const when = seen.lastModified === undefined ? 'no Last-Modified' : seen.lastModified === mtimeSeconds ? 'same Last-Modified' : 'newer Last-Modified';
  return { ...base, status: 'fresh', method: 'samples', detail: `size and ${content.ranges} sampled ranges match (${when})` };
}

/** The first offset where two byte strings of a range differ, or undefined. */
export function firstDifference(ours: Buffer, theirs: Buffer, offset: number): number | undefined {
  const n = Math.min(ours.length, theirs.length);
  for (let i = 0; i < n; i++) if (ours[i] !== theirs[i]) return offset + i;
  return ours.length === theirs.length ? undefined : offset + n;
}

/** How long evidence about a file stays good: young files change more, so they are asked about sooner. */
export function recheckAfterMs(file: FileRef, volatile: boolean, rules: FreshnessRules, now: number): number {
  if (volatile) return rules.volatileMaxAgeSeconds * 1000;
  const young = now - file.mtimeMs < rules.youngFileSeconds * 1000;
  return (young ? rules.youngRecheckSeconds : rules.oldRecheckSeconds) * 1000;
}

// Verdicts are shared constants: this runs per candidate mirror on every redirect, and allocates nothing.
const OK: FileVerdict = { ok: true, recheck: false };
const OK_DUE: FileVerdict = { ok: true, recheck: true };
const UNVERIFIED: FileVerdict = { ok: false, reason: 'unverified', recheck: true };
const BAD: Record<'missing' | 'stale', readonly [FileVerdict, FileVerdict]> = {
  missing: [{ ok: false, reason: 'missing', recheck: false }, { ok: false, reason: 'missing', recheck: true }],
  stale: [{ ok: false, reason: 'stale', recheck: false }, { ok: false, reason: 'stale', recheck: true }],
};

export function fileVerdict(
  evidence: Evidence | undefined,
  syncStamp: number | undefined,
  file: FileRef,
  volatile: boolean,
  rules: FreshnessRules,
  now: number,
): FileVerdict {
  const current = evidence !== undefined && evidence.size === file.size && evidence.mtimeMs === file.mtimeMs && evidence.ctimeMs === file.ctimeMs
    ? evidence : undefined;
  const due = current === undefined || now - current.checkedAt >= recheckAfterMs(file, volatile, rules, now);
  if (current === undefined && !volatile && syncStamp !== undefined && file.mtimeMs < syncStamp) return OK;
  if (current !== undefined && current.status !== 'fresh') return BAD[current.status][due ? 1 : 0];
  if (volatile) {
    // Content changes under this name: only a recent check counts, never a sync stamp.
    return current !== undefined && !due ? OK : UNVERIFIED;
  }
  if (current !== undefined) return due ? OK_DUE : OK;
  if (syncStamp !== undefined && file.mtimeMs < syncStamp) return OK;
  return UNVERIFIED;
}

/** A sync timestamp file's content: unix seconds (or ms), or a date any Date.parse understands. */
export function parseSyncStamp(text: string): number | undefined {
  const trimmed = text.trim().split('\n')[0]?.trim() ?? '';
  if (/^\d{9,10}$/.test(trimmed)) return Number(trimmed) * 1000;
  if (/^\d{12,13}$/.test(trimmed)) return Number(trimmed);
  const parsed = Date.parse(trimmed);
  return Number.isFinite(parsed) ? parsed : undefined;
}
