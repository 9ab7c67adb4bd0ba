// PURE: whether a mirror holds the repository's current copy of a file. Evidence comes from a HEAD of
// the file on the mirror and is only evidence for the (size, mtime) it was taken against: a file rebuilt
// under the same name makes old evidence worthless. A mirror's sync timestamp vouches for every file
// older than it without a per-file check. docs/selection.md and the README state these rules.
import type { HeadResult } from './http-client.js';

export type EvidenceStatus = 'fresh' | 'stale' | 'missing';

export interface Evidence {
  readonly status: EvidenceStatus;
  /** The repository copy this evidence is about. */
  readonly size: number;
  readonly mtimeMs: number;
  readonly checkedAt: number;
  readonly detail: string;
}

export interface FileRef {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

export type FileVerdict =
  | { readonly ok: true; readonly recheck: boolean }
  | { readonly ok: false; readonly reason: 'missing' | 'stale' | 'unverified'; readonly recheck: boolean };

export interface FreshnessRules {
  readonly youngFileSeconds: number;
  readonly youngRecheckSeconds: number;
  readonly oldRecheckSeconds: number;
  readonly volatileMaxAgeSeconds: number;
}

/** What a HEAD says; undefined when it says nothing (timeout, 5xx): try again later. */
export function judgeFile(result: HeadResult, file: FileRef, now: number): Evidence | undefined {
  const base = { size: file.size, mtimeMs: file.mtimeMs, checkedAt: now };
  if (!result.ok) return undefined;
  if (result.status === 404 || result.status === 410) return { ...base, status: 'missing', detail: `HTTP ${result.status}` };
  if (result.status !== 200) return undefined;
  if (result.contentLength !== undefined && result.contentLength !== file.size) {
    return { ...base, status: 'stale', detail: `size ${result.contentLength} != ${file.size}` };
  }
  // Last-Modified has whole seconds; the repository's mtime may not.
  const mtimeSeconds = Math.floor(file.mtimeMs / 1000) * 1000;
  if (result.lastModified !== undefined) {
    if (result.lastModified >= mtimeSeconds) return { ...base, status: 'fresh', detail: 'size and Last-Modified match' };
    return { ...base, status: 'stale', detail: `Last-Modified ${new Date(result.lastModified).toISOString()} older than ${new Date(mtimeSeconds).toISOString()}` };
  }
  if (result.etag !== undefined && result.etag.replace(/^W\//, '') === nginxEtag(file)) {
    return { ...base, status: 'fresh', detail: 'size and ETag match' };
  }
  return { ...base, status: 'stale', detail: 'no Last-Modified and no matching ETag' };
}

/** The ETag nginx (and many static servers copying it) give a file with this size and mtime. */
export function nginxEtag(file: FileRef): string {
  return `"${Math.floor(file.mtimeMs / 1000).toString(16)}-${file.size.toString(16)}"`;
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
  const current = evidence !== undefined && evidence.size === file.size && evidence.mtimeMs === file.mtimeMs ? evidence : undefined;
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
