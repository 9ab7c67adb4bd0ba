// The catalog: every file of the repository. One copy per host: the `files` table, which every process
// (the primary, each worker, the CLI) reads through SQLite, so the OS page cache holds it once whatever the
// number of workers. Each process keeps only the paths it was asked for lately (a bounded cache of entry
// objects: a redirect of a popular file reads no database and allocates nothing) and forgets a path when
// the change log says it changed. Why not each worker's own copy in memory: at a million files that was
// about 550 MB a process; README "One host at scale" has the measurements.
//
// A copy of a file is (size, mtime, ctime): ctime changes on every write and rename and no tool can set
// it, so a file rebuilt with the same size and mtime is still a new copy, and evidence about the old
// one no longer counts.
//
// Writes go through files-table.ts (here, and from the scan process); every process follows
// catalog_changes (follow()) to forget what changed.
import type { Db } from '../db/open.js';
import { readMeta, statement } from '../db/open.js';
import { fileCount, LOG_PATHS_MAX, logEnd, readFile, writeFiles, writeHash, type FileRow, type FileStat, type PathUpdate } from './files-table.js';
import { scanIntoDb } from './scan.js';

export { sameCopy, type FileStat, type PathUpdate } from './files-table.js';

export interface FileEntry extends FileStat {
  readonly path: string;
}

export interface ScanReport {
  readonly files: number;
  readonly added: number;
  readonly changed: number;
  readonly removed: number;
  readonly ms: number;
}

/** A catalog file as read from the database: its copy, the date it is served with and its sha256. */
class CatalogEntry implements FileEntry {
  /** The sha256 as base64 (Repr-Digest's form), made on first use. */
  digest: string | undefined;
  /** memoize()'s answer for this entry, and which memoize() gave it. */
  mark = false;
  markOf = 0;

  constructor(
    readonly path: string,
    readonly size: number,
    readonly mtimeMs: number,
    readonly ctimeMs: number,
    readonly lastModifiedSeconds: number,
    readonly sha256: string | null,
  ) {}
}

/** Entries kept per process: two generations of up to half this each (about 25 MB when full). */
const HOT_PATHS = 100_000;
/** Rows read at once when the whole catalog is walked. */
const PAGE = 5000;

export class Catalog {
  /** Paths asked for lately. A hit in `young` costs one Map lookup; `old` is the generation before. */
  private young = new Map<string, CatalogEntry>();
  private old = new Map<string, CatalogEntry>();
  /** Changes made here whose write to the db failed: they answer first, and are written with the next change. */
  private readonly unpersisted = new Map<string, CatalogEntry | null>();
  /** The catalog_version this process has followed; compared with the db's to spot a change. */
  private version = '';
  /** The last catalog_changes row followed. */
  private watermark = 0;
  private files = 0;
  private memoized = 0;
  /** Lookups, and those of them that had to read the database (health and metrics). */
  lookups = 0;
  misses = 0;

  constructor(private readonly db: Db) {}

  lookup(path: string): FileEntry | undefined {
    this.lookups += 1;
    if (this.unpersisted.size > 0 && this.unpersisted.has(path)) return this.unpersisted.get(path) ?? undefined;
    let entry = this.young.get(path);
    if (entry !== undefined) return entry;
    entry = this.old.get(path);
    if (entry === undefined) {
      this.misses += 1;
      const row = readFile(this.db, path);
      if (row === undefined) return undefined;
      entry = toEntry(path, row);
    }
    this.remember(entry);
    return entry;
  }

  /**
   * `test` of a file's path, remembered on the entry: a pattern match once per copy instead of once per
   * request. One memoized test at a time is remembered (a newer one, after a config reload, replaces it).
   */
  memoize(test: (path: string) => boolean): (file: FileEntry) => boolean {
    const id = ++this.memoized;
    return (file) => {
      if (!(file instanceof CatalogEntry)) return test(file.path);
      if (file.markOf !== id) {
        file.mark = test(file.path);
        file.markOf = id;
      }
      return file.mark;
    };
  }

  get size(): number {
    return this.files;
  }

  /** Entries kept in this process's cache. */
  get cached(): number {
    return this.young.size + this.old.size;
  }

  /**
   * The Last-Modified (unix seconds) this copy is served with: its mtime's second, unless an earlier copy
   * of the path already carried that date (then one second past that copy's).
   */
  lastModifiedSeconds(file: FileEntry): number {
    const entry = this.entryOf(file);
    return entry !== undefined ? entry.lastModifiedSeconds : Math.floor(file.mtimeMs / 1000);
  }

  /** True when this copy's Last-Modified is not its mtime's (see lastModifiedSeconds): no mirror can match it. */
  lastModifiedMoved(file: FileEntry): boolean {
    return this.lastModifiedSeconds(file) !== Math.floor(file.mtimeMs / 1000);
  }

  /** Every file, in path order, read a page at a time. Not for the redirect path. */
  *entries(after = '', below?: string): Generator<FileEntry> {
    const page = below === undefined
      ? statement(this.db, 'SELECT path, size, mtime_ms, ctime_ms, last_modified_s, sha256 FROM files WHERE path > ? ORDER BY path LIMIT ? -- raw').raw()
      : statement(this.db, 'SELECT path, size, mtime_ms, ctime_ms, last_modified_s, sha256 FROM files WHERE path > ? AND path < ? ORDER BY path LIMIT ? -- raw').raw();
    // Pages by key, never .iterate(): an iterator left to the GC aborts Node 24 (db/statements.ts).
    for (;;) {
      const rows = (below === undefined ? page.all(after, PAGE) : page.all(after, below, PAGE)) as [string, ...FileRow][];
      for (const [path, ...row] of rows) yield toEntry(path, row);
      if (rows.length < PAGE) return;
      after = (rows[rows.length - 1] as [string, ...FileRow])[0];
    }
  }

  /** Catalog paths under a directory prefix ("a/b/", '' for all). */
  pathsUnder(prefix: string): string[] {
    const paths: string[] = [];
    for (const { path } of this.entries(prefix, prefix === '' ? undefined : upperBound(prefix))) if (path.startsWith(prefix)) paths.push(path);
    return paths;
  }

  /** Is this path a directory of the catalog (has it files below)? The root always is. */
  isDirectory(path: string): boolean {
    if (path === '') return true;
    return statement(this.db, 'SELECT 1 FROM files WHERE path > ? AND path < ? LIMIT 1').get(`${path}/`, `${path}0`) !== undefined;
  }

  /**
   * A directory's children, each directory once: one index seek per child (a skip scan), so a listing
   * costs its own length, whatever lies deeper. Files come with their entries.
   */
  children(dir: string): { name: string; file: FileEntry | undefined }[] {
    const prefix = dir === '' ? '' : `${dir}/`;
    // The whole row with the seek: a file child needs no second read for its entry.
    const columns = 'path, size, mtime_ms, ctime_ms, last_modified_s, sha256';
    const next = dir === ''
      ? statement(this.db, `SELECT ${columns} FROM files WHERE path >= ? ORDER BY path LIMIT 1 -- raw`).raw()
      : statement(this.db, `SELECT ${columns} FROM files WHERE path >= ? AND path < ? ORDER BY path LIMIT 1 -- raw`).raw();
    const below = dir === '' ? '' : upperBound(prefix);
    const children: { name: string; file: FileEntry | undefined }[] = [];
    let from = prefix;
    for (;;) {
      const found = (dir === '' ? next.get(from) : next.get(from, below)) as [string, ...FileRow] | undefined;
      if (found === undefined) return children;
      const [path, ...row] = found;
      const rest = path.slice(prefix.length);
      const cut = rest.indexOf('/');
      if (cut === -1) {
        // The kept entry when there is one; a listing never adds to the kept ones (it would push the popular files out).
        children.push({ name: rest, file: this.young.get(path) ?? this.old.get(path) ?? toEntry(path, row) });
        from = `${path}\0`;
      } else {
        const name = rest.slice(0, cut);
        children.push({ name, file: undefined });
        from = upperBound(`${prefix}${name}/`); // past everything in that directory
      }
    }
  }

  /**
   * Files for health probes: the oldest small ones and the largest, `n` of each, skipping what `skip`
   * rejects. Two index walks (migrations/006): about a millisecond at a million files.
   */
  probeCandidates(n: number, skip: (path: string) => boolean): { small: FileEntry | undefined; large: FileEntry | undefined } {
    const read = (sql: string) => (statement(this.db, sql).raw().all(n) as [string, ...FileRow][])
      .map(([path, ...row]) => toEntry(path, row)).find((f) => !skip(f.path));
    const columns = 'path, size, mtime_ms, ctime_ms, last_modified_s, sha256';
    // `+size`: walk the mtime index (oldest first) and test the size, not the other way round.
    const small = read(`SELECT ${columns} FROM files WHERE +size > 0 AND +size <= 1048576 ORDER BY mtime_ms, path LIMIT ? -- raw`);
    const large = read(`SELECT ${columns} FROM files WHERE size > 0 ORDER BY size DESC, path LIMIT ? -- raw`);
    return { small: small ?? large, large };
  }

  /** Starts following the catalog in the database: nothing is read until asked for. */
  load(): void {
    this.version = readMeta(this.db, 'catalog_version') ?? '';
    this.watermark = logEnd(this.db);
    this.forgetAll();
  }

  /**
   * Catches up with changes written since the last call (by this process, another one, or the scan
   * process): forgets the changed paths, or everything when the log says so or has been pruned past us.
   * True if anything changed.
   */
  follow(): boolean {
    // The version first: a change written after it is read moves it again, and the next call sees that.
    const version = readMeta(this.db, 'catalog_version') ?? '';
    if (version === this.version) return false;
    const rows = statement(this.db, 'SELECT seq, path FROM catalog_changes WHERE seq > ? ORDER BY seq LIMIT ? -- raw').raw()
      .all(this.watermark, LOG_PATHS_MAX + 1) as [number, string][];
    const first = rows[0];
    const oldest = (statement(this.db, 'SELECT MIN(seq) AS s FROM catalog_changes').get() as { s: number | null }).s ?? 0;
    if (rows.length > LOG_PATHS_MAX || rows.some((r) => r[1] === '') || (first !== undefined && first[0] > this.watermark + 1 && oldest > this.watermark + 1)) {
      this.watermark = logEnd(this.db);
      this.forgetAll();
    } else {
      for (const [seq, path] of rows) {
        this.forget(path);
        this.watermark = seq;
      }
      this.files = fileCount(this.db);
    }
    this.version = version;
    return true;
  }

  /**
   * Walks the repository and writes the differences to the db, both in a child process (serving never
   * waits on a million stats or inserts), then follows them here. `onWalked` gets the directories walked.
   */
  async scan(root: string, signal?: AbortSignal, onWalked?: (dirs: string[]) => void): Promise<ScanReport> {
    const started = performance.now();
    const scanned = await scanIntoDb(root, this.db, signal);
    this.follow();
    onWalked?.(scanned.dirs);
    return { files: scanned.files, added: scanned.added, changed: scanned.changed, removed: scanned.removed, ms: Math.round(performance.now() - started) };
  }

  /**
   * Applies changes seen by the watcher or by a stat at serve time. They answer at once; a failed write
   * to the db is kept (and answers) until the next change or retryPersist() writes it; the error is thrown
   * for the caller to log. Returns what changed.
   */
  patch(updates: readonly PathUpdate[]): { added: number; changed: number; removed: number } {
    this.follow(); // another process may have written since: compare with what is there now
    const counts = { added: 0, changed: 0, removed: 0 };
    for (const { path, stat } of updates) {
      const before = this.lookup(path);
      if (stat === undefined) {
        if (before === undefined) continue;
        counts.removed += 1;
        this.unpersisted.set(path, null);
        this.forget(path);
        continue;
      }
      if (before !== undefined && before.size === stat.size && before.mtimeMs === stat.mtimeMs && before.ctimeMs === stat.ctimeMs) continue;
      counts[before === undefined ? 'added' : 'changed'] += 1;
      const served = before === undefined ? -Infinity : this.lastModifiedSeconds(before);
      const seconds = Math.floor(stat.mtimeMs / 1000);
      this.unpersisted.set(path, new CatalogEntry(path, stat.size, stat.mtimeMs, stat.ctimeMs, seconds <= served ? served + 1 : seconds, null));
      this.forget(path);
    }
    if (counts.added + counts.changed + counts.removed > 0) this.persist();
    return counts;
  }

  /** The database was replaced under us: follow its log from its start, whatever we had read before. */
  followAfresh(): void {
    this.watermark = 0;
    this.version = '(reopened)';
    this.forgetAll();
  }

  /**
   * The sha256 of this copy as base64 (the form of Repr-Digest and Digest), or undefined until the hasher
   * has read it. The entry's own, made once per entry: the redirect path asks on every request.
   */
  digestOf(file: FileEntry): string | undefined {
    const entry = this.entryOf(file);
    if (entry?.sha256 == null) return undefined;
    entry.digest ??= Buffer.from(entry.sha256, 'hex').toString('base64');
    return entry.digest;
  }

  /** The same as lowercase hex (sha256sum's form). */
  sha256Of(file: FileEntry): string | undefined {
    return this.entryOf(file)?.sha256 ?? undefined;
  }

  /**
   * The hasher read this copy: stores its sha256 and piece hashes, if the copy is still the catalog's,
   * and logs the path so every process reads it again. False when the copy changed meanwhile.
   */
  recordHash(path: string, copy: FileStat, sha256: string, pieceBytes: number, pieces: Buffer): boolean {
    const { stored } = writeHash(this.db, path, copy, sha256, pieceBytes, pieces);
    if (stored) this.follow();
    return stored;
  }

  /** Piece hashes of this copy for Metalink, or undefined until hashed. Reads the db: not for the redirect path. */
  piecesOf(file: FileEntry): { readonly pieceBytes: number; readonly hashes: string[] } | undefined {
    const row = statement(this.db, 'SELECT piece_bytes AS pieceBytes, pieces FROM files WHERE path = ? AND size = ? AND mtime_ms = ? AND ctime_ms = ? AND sha256 IS NOT NULL')
      .get(file.path, file.size, file.mtimeMs, file.ctimeMs) as { pieceBytes: number | null; pieces: Buffer | null } | undefined;
    if (row?.pieceBytes == null || row.pieces == null) return undefined;
    const hashes: string[] = [];
    for (let at = 0; at + 32 <= row.pieces.length; at += 32) hashes.push(row.pieces.subarray(at, at + 32).toString('hex'));
    return { pieceBytes: row.pieceBytes, hashes };
  }

  /** Retries db writes that failed earlier (called by the runtime's loop). */
  retryPersist(): void {
    if (this.unpersisted.size > 0) this.persist();
  }

  get pendingWrites(): number {
    return this.unpersisted.size;
  }

  /** The catalog's entry for this very copy: `file` itself when it is one, else looked up and compared. */
  private entryOf(file: FileEntry): CatalogEntry | undefined {
    if (file instanceof CatalogEntry) return file;
    const current = this.lookup(file.path);
    return current instanceof CatalogEntry && current.size === file.size && current.mtimeMs === file.mtimeMs && current.ctimeMs === file.ctimeMs
      ? current : undefined;
  }

  private remember(entry: CatalogEntry): void {
    if (this.young.size >= HOT_PATHS / 2) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(entry.path, entry);
  }

  private forget(path: string): void {
    this.young.delete(path);
    this.old.delete(path);
  }

  private forgetAll(): void {
    this.young = new Map();
    this.old = new Map();
    this.files = fileCount(this.db);
  }

  /** Writes every change not yet written, in one transaction, then follows it like any other. */
  private persist(): void {
    const updates: PathUpdate[] = [];
    for (const [path, entry] of this.unpersisted) updates.push({ path, stat: entry ?? undefined });
    writeFiles(this.db, updates);
    this.unpersisted.clear();
    this.follow();
  }
}

function toEntry(path: string, [size, mtimeMs, ctimeMs, lastModifiedS, sha256]: FileRow): CatalogEntry {
  return new CatalogEntry(path, size, mtimeMs, ctimeMs, lastModifiedS ?? Math.floor(mtimeMs / 1000), sha256 !== null && sha256.length === 64 ? sha256 : null);
}

/** The smallest string above every path under the directory `prefix` ("a/b/" → "a/b0"): '/' + 1 is '0'. */
function upperBound(prefix: string): string {
  return `${prefix.slice(0, -1)}0`;
}
