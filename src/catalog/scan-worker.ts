// Runs in a child process of its own (scan.ts forks it): walks the repository with synchronous fs calls
// (several times faster than a promise per stat, and off the serving process, so serving never waits).
// Given the catalog's database, it writes the differences there itself, with a connection of its own,
// and sends back only the counts and the directories; otherwise it sends the walk back in columns. A
// process, not a thread: a million paths and the SQL that compares them take a few hundred MB, which a
// thread would leave in the server's resident memory after it ends and a process gives back to the OS.
// Rules: dotfiles and dot-directories skipped; symlinks to files followed, to directories not.
import { readdirSync, statSync } from 'node:fs';
import { openDb, readMeta, statement, type Db } from '../db/open.js';
import { LOG_PATHS_MAX, writeFiles, type PathUpdate, type WriteCounts } from './files-table.js';

export interface ScanColumns {
  readonly paths: string[];
  readonly sizes: Float64Array;
  readonly mtimes: Float64Array;
  readonly ctimes: Float64Array;
  /** Every directory walked ('' is the root), for the watcher. */
  readonly dirs: string[];
}

export interface ScanWritten extends WriteCounts {
  /** Files in the repository. */
  readonly files: number;
  readonly dirs: string[];
}

/** Rows written per transaction: the server's own writes wait at most this long for the lock. */
const WRITE_BATCH = 2000;

/** The server that forked this scan, when it is one (the child's entry below sets it). */
let parentPid: number | undefined;

/**
 * A scan whose server died (SIGKILL, the OOM killer) is nobody's: it ends at the next directory or batch
 * rather than walk and write on for minutes next to the restarted server's own scan. Its open
 * transaction, if any, is rolled back with its connection.
 */
function endIfOrphaned(): void {
  if (parentPid !== undefined && process.ppid !== parentPid) process.exit(3);
}

/**
 * Makes `files` match the walk: the walk goes into a temporary table (this connection's own: no lock on
 * the catalog), SQLite finds what was added, changed and removed, and only those are written, a batch
 * per transaction (files-table.ts).
 */
export function writeScan(db: Db, scanned: ScanColumns): ScanWritten {
  // This connection's own page cache, large enough for the indexes a million inserts go through (the
  // default 2 MB made a first scan of a million files twice as slow); gone with the process.
  statement(db, 'PRAGMA cache_size = -131072').run();
  statement(db, 'CREATE TEMP TABLE IF NOT EXISTS scanned (path TEXT PRIMARY KEY, size INTEGER, mtime_ms INTEGER, ctime_ms INTEGER) WITHOUT ROWID').run();
  statement(db, 'DELETE FROM temp.scanned').run();
  const insert = statement(db, 'INSERT OR REPLACE INTO temp.scanned VALUES (?, ?, ?, ?)');
  const { paths, sizes, mtimes, ctimes } = scanned;
  db.transaction(() => {
    for (let i = 0; i < paths.length; i++) insert.run(paths[i], sizes[i], mtimes[i], ctimes[i]);
  })();
  const updates: PathUpdate[] = [];
  const differing = statement(db, `SELECT s.path, s.size, s.mtime_ms, s.ctime_ms FROM temp.scanned s LEFT JOIN files f ON f.path = s.path
    WHERE f.path IS NULL OR f.size <> s.size OR f.mtime_ms <> s.mtime_ms OR f.ctime_ms <> s.ctime_ms -- raw`).raw().all() as [string, number, number, number][];
  for (const [path, size, mtimeMs, ctimeMs] of differing) updates.push({ path, stat: { size, mtimeMs, ctimeMs } });
  const gone = statement(db, 'SELECT path FROM files WHERE path NOT IN (SELECT path FROM temp.scanned) -- pluck').pluck().all() as string[];
  for (const path of gone) updates.push({ path, stat: undefined });
  statement(db, 'DELETE FROM temp.scanned').run();
  const counts = { added: 0, changed: 0, removed: 0 };
  // A large change is logged as "read everything again" once per batch, not path by path.
  const logAll = updates.length > LOG_PATHS_MAX;
  for (let at = 0; at < updates.length; at += WRITE_BATCH) {
    endIfOrphaned();
    const written = writeFiles(db, updates.slice(at, at + WRITE_BATCH), logAll);
    counts.added += written.added;
    counts.changed += written.changed;
    counts.removed += written.removed;
  }
  // A first scan of an empty repository still gives the catalog a version to follow.
  if (updates.length === 0 && readMeta(db, 'catalog_version') === undefined) writeFiles(db, []);
  return { files: paths.length, ...counts, dirs: scanned.dirs };
}

/** `filesToo: false` lists directories only (no stat per file): what the watcher needs, several times faster. */
export function walkSync(root: string, filesToo = true): ScanColumns {
  const dirs: string[] = [];
  const paths: string[] = [];
  let sizes = new Float64Array(1024);
  let mtimes = new Float64Array(1024);
  let ctimes = new Float64Array(1024);
  const grow = (column: Float64Array) => {
    const grown = new Float64Array(column.length * 2);
    grown.set(column);
    return grown;
  };
  const push = (path: string, s: { size: number; mtimeMs: number; ctimeMs: number }) => {
    if (paths.length === sizes.length) {
      sizes = grow(sizes);
      mtimes = grow(mtimes);
      ctimes = grow(ctimes);
    }
    sizes[paths.length] = s.size;
    mtimes[paths.length] = Math.trunc(s.mtimeMs);
    ctimes[paths.length] = Math.trunc(s.ctimeMs);
    paths.push(path);
  };
  const base = root.endsWith('/') ? root : `${root}/`;
  const pending: string[] = [''];
  while (pending.length > 0) {
    const rel = pending.pop() as string;
    endIfOrphaned();
    dirs.push(rel);
    const prefix = rel === '' ? '' : `${rel}/`;
    let entries;
    try {
      // readdirSync with types is about twice as fast as opendir for large trees.
      entries = readdirSync(base + rel, { withFileTypes: true });
    } catch (err) {
      if (rel === '') throw err;
      continue; // removed while we walk
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const path = prefix + entry.name;
      if (entry.isDirectory()) {
        pending.push(path);
        continue;
      }
      if (!filesToo || (!entry.isFile() && !entry.isSymbolicLink())) continue;
      const s = statSync(base + path, { throwIfNoEntry: false });
      if (s !== undefined && s.isFile()) push(path, s);
    }
  }
  return { paths, sizes: sizes.slice(0, paths.length), mtimes: mtimes.slice(0, paths.length), ctimes: ctimes.slice(0, paths.length), dirs };
}

/** What scan.ts asks of this process. */
export interface ScanJob {
  readonly root: string;
  readonly filesToo: boolean;
  readonly db?: string;
}

function run(job: ScanJob): ScanColumns | ScanWritten {
  const result = walkSync(job.root, job.filesToo);
  if (job.db === undefined) return result;
  // Opened only after the walk, and closed before answering: no statement is left to the GC (db/statements.ts).
  const { db } = openDb(job.db, { migrate: false });
  try {
    return writeScan(db, result);
  } finally {
    db.close();
  }
}

if (process.env.MIRRORGATE_SCAN_CHILD === '1' && process.send !== undefined) {
  // From the server's own word (scan.ts), not from process.ppid at start: the server may already be gone.
  parentPid = Number(process.env.MIRRORGATE_SCAN_PARENT) || process.ppid;
  process.once('message', (job: ScanJob) => {
    let answer: { ok: true; result: ScanColumns | ScanWritten } | { ok: false; message: string; code?: string };
    try {
      answer = { ok: true, result: run(job) };
    } catch (err) {
      answer = { ok: false, message: (err as Error).message, code: (err as NodeJS.ErrnoException).code };
    }
    process.send?.(answer, () => process.disconnect());
  });
}
