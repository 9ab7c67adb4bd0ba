// Every write to the catalog's tables: `files`, its change log `catalog_changes` and the meta keys
// `catalog_version` and `catalog_files`. Used by the serving thread (the watcher's changes, hashes) and by
// the scan process (scan-worker.ts, with a connection of its own), so both write the same way:
// one transaction per batch, each changed path logged, then a new catalog_version that tells every
// other process (workers, a server after `mirrorgate scan`) which paths to read again.
import type { Db } from '../db/open.js';
import { readMeta, statement, writeMeta } from '../db/open.js';

export interface FileStat {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

/** One path's new state: its stat, or undefined when it is gone. */
export interface PathUpdate {
  readonly path: string;
  readonly stat: FileStat | undefined;
}

export interface WriteCounts {
  readonly added: number;
  readonly changed: number;
  readonly removed: number;
}

/** A row of `files` as the redirect path needs it. */
export type FileRow = [size: number, mtimeMs: number, ctimeMs: number, lastModifiedS: number | null, sha256: string | null];

/** More changed paths than this in one write are logged as "read everything again" (an empty path). */
export const LOG_PATHS_MAX = 5000;
/** catalog_changes keeps about this many rows; a reader that falls further behind reads everything again. */
const LOG_KEEP = 20_000;

export function sameCopy(a: FileStat, b: FileStat): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

/** One path's row, or undefined. */
export function readFile(db: Db, path: string): FileRow | undefined {
  return statement(db, 'SELECT size, mtime_ms, ctime_ms, last_modified_s, sha256 FROM files WHERE path = ? -- raw').raw().get(path) as FileRow | undefined;
}

/**
 * Writes `updates` (rows added, replaced or deleted; a path whose copy is unchanged is left alone), logs
 * the changed paths and moves catalog_version, in one transaction. A copy replacing another is dated
 * after it when its mtime would not be (see last_modified_s in migrations/006).
 */
export function writeFiles(db: Db, updates: readonly PathUpdate[], logAll = false): WriteCounts & { readonly version: string; readonly end: number } {
  const upsert = statement(db, `
    INSERT INTO files (path, size, mtime_ms, ctime_ms, sha256, last_modified_s) VALUES (?, ?, ?, ?, NULL, ?)
    ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms, ctime_ms = excluded.ctime_ms,
      sha256 = NULL, piece_bytes = NULL, pieces = NULL, last_modified_s = excluded.last_modified_s`);
  const remove = statement(db, 'DELETE FROM files WHERE path = ?');
  const log = statement(db, 'INSERT INTO catalog_changes (path) VALUES (?)');
  let result: WriteCounts & { version: string; end: number } = { added: 0, changed: 0, removed: 0, version: '', end: 0 };
  db.transaction(() => {
    const counts = { added: 0, changed: 0, removed: 0 };
    const logged: string[] = [];
    for (const { path, stat } of updates) {
      const before = readFile(db, path);
      if (stat === undefined) {
        if (before === undefined) continue;
        remove.run(path);
        counts.removed += 1;
      } else if (before === undefined) {
        upsert.run(path, stat.size, stat.mtimeMs, stat.ctimeMs, null);
        counts.added += 1;
      } else {
        const [size, mtimeMs, ctimeMs, lastModifiedS] = before;
        if (size === stat.size && mtimeMs === stat.mtimeMs && ctimeMs === stat.ctimeMs) continue;
        const servedBefore = lastModifiedS ?? Math.floor(mtimeMs / 1000);
        upsert.run(path, stat.size, stat.mtimeMs, stat.ctimeMs, Math.floor(stat.mtimeMs / 1000) <= servedBefore ? servedBefore + 1 : null);
        counts.changed += 1;
      }
      logged.push(path);
    }
    if (logAll || logged.length > LOG_PATHS_MAX) log.run('');
    else for (const path of logged) log.run(path);
    const files = fileCount(db) + counts.added - counts.removed;
    writeMeta(db, 'catalog_files', String(files));
    result = { ...counts, ...newVersion(db) };
  })();
  return result;
}

/** Stores a copy's hashes if the row still names that copy; logs the path. False when the copy changed meanwhile. */
export function writeHash(db: Db, path: string, copy: FileStat, sha256: string, pieceBytes: number, pieces: Buffer): { stored: boolean; end: number } {
  const store = statement(db, 'UPDATE files SET sha256 = ?, piece_bytes = ?, pieces = ? WHERE path = ? AND size = ? AND mtime_ms = ? AND ctime_ms = ?');
  let result = { stored: false, end: 0 };
  db.transaction(() => {
    if (store.run(sha256, pieceBytes, pieces, path, copy.size, copy.mtimeMs, copy.ctimeMs).changes !== 1) return;
    statement(db, 'INSERT INTO catalog_changes (path) VALUES (?)').run(path);
    result = { stored: true, end: newVersion(db).end };
  })();
  return result;
}

/** Rows in `files` (kept in meta by every write; counted when missing). */
export function fileCount(db: Db): number {
  const kept = readMeta(db, 'catalog_files');
  if (kept !== undefined) return Number(kept);
  return (statement(db, 'SELECT COUNT(*) AS n FROM files').get() as { n: number }).n;
}

export function logEnd(db: Db): number {
  return (statement(db, 'SELECT MAX(seq) AS s FROM catalog_changes').get() as { s: number | null }).s ?? 0;
}

/** In a write transaction: prunes the change log and writes a new catalog_version; returns both. */
function newVersion(db: Db): { version: string; end: number } {
  const end = logEnd(db);
  statement(db, 'DELETE FROM catalog_changes WHERE seq <= ?').run(end - LOG_KEEP);
  const version = `${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  writeMeta(db, 'catalog_version', version);
  return { version, end };
}

/**
 * Makes `files` of one connection a copy of another's (the database file was deleted or replaced under the
 * server: the old connection still reads the current catalog), then tells every process to read everything again.
 */
export function carryFiles(from: Db, to: Db): number {
  const columns = 'path, size, mtime_ms, ctime_ms, sha256, piece_bytes, pieces, last_modified_s';
  const page = statement(from, `SELECT ${columns} FROM files WHERE path > ? ORDER BY path LIMIT 5000 -- carry`).raw();
  const put = statement(to, `INSERT OR REPLACE INTO files (${columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
  let rows = 0;
  to.transaction(() => {
    statement(to, 'DELETE FROM files').run();
    for (let after = ''; ;) {
      const read = page.all(after) as [string, ...unknown[]][];
      for (const row of read) put.run(...row);
      rows += read.length;
      if (read.length < 5000) break;
      after = (read[read.length - 1] as [string])[0];
    }
    writeMeta(to, 'catalog_files', String((statement(to, 'SELECT COUNT(*) AS n FROM files').get() as { n: number }).n));
  })();
  writeFiles(to, [], true);
  return rows;
}
