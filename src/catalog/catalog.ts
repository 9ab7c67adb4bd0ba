// The catalog: every file of the repository, held in memory for the redirect path and persisted in the
// `files` table so a restart does not need a rescan. Owns `files` and `catalog_changes` (migrations/001,
// 003) and the `catalog_version` meta key, which every change bumps so other processes know to follow.
//
// A copy of a file is (size, mtime, ctime): ctime changes on every write and rename and no tool can set
// it, so a file rebuilt with the same size and mtime is still a new copy, and evidence about the old
// one no longer counts.
//
// Memory is columnar, for catalogs of a million files: a Map from path to slot, and sizes, mtimes and
// ctimes in typed arrays (about 110 bytes a file with the path string, against ~300 for an object each).
// A full scan lays the columns out afresh; a patch (the watcher, a serve-time stat) changes a slot in
// place, appends a slot or leaves a tombstone (size -1), so slots stay put between full scans.
import type { Db } from '../db/open.js';
import { readMeta, statement, writeMeta } from '../db/open.js';
import { scanRepository, type ScanColumns } from './scan.js';

export interface FileStat {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

export interface FileEntry extends FileStat {
  readonly path: string;
  /** Where lookup() found it: its slot in that column layout (see memoize). */
  readonly slot?: number;
  readonly layout?: number;
}

export interface ScanReport {
  readonly files: number;
  readonly added: number;
  readonly changed: number;
  readonly removed: number;
  readonly ms: number;
}

/** One path's new state: its stat, or undefined when it is gone. */
export interface PathUpdate {
  readonly path: string;
  readonly stat: FileStat | undefined;
}

interface Columns {
  readonly slots: Map<string, number>;
  /** Slot → path; '' for a removed slot. Its length is the number of slots used. */
  readonly paths: string[];
  sizes: Float64Array;
  mtimes: Float64Array;
  ctimes: Float64Array;
  /** The copy's sha256, 32 bytes per slot, valid where `hashed` is 1 (filled in by the hasher). */
  hashes: Uint8Array;
  hashed: Uint8Array;
}

/** More changed paths than this in one write are logged as "reload everything". */
const LOG_PATHS_MAX = 5000;
/** catalog_changes keeps about this many rows. */
/** Rows read at once when the catalog is loaded. */
const LOAD_PAGE = 50_000;
const LOG_KEEP = 20_000;

const empty = (): Columns => ({
  slots: new Map(), paths: [], sizes: new Float64Array(0), mtimes: new Float64Array(0), ctimes: new Float64Array(0),
  hashes: new Uint8Array(0), hashed: new Uint8Array(0),
});
const HASH_BYTES = 32;
/** digestOf() strings kept at most (about 100 bytes each). */
const DIGESTS_KEPT = 65_536;

export function sameCopy(a: FileStat, b: FileStat): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

/** Told about every path that appears in or leaves the catalog (the directory index keeps up this way). */
export interface PathListener {
  added(path: string): void;
  removed(path: string): void;
  /** The catalog was loaded afresh: start over from entries(). */
  reset(): void;
}

export class Catalog {
  private files: Columns = empty();
  listener: PathListener | undefined;
  /** The catalog_version this copy reflects; compared with the db's to spot another process's change. */
  private version = '';
  /** The last catalog_changes row this copy has applied. */
  private watermark = 0;
  /** Bumped whenever the catalog changes; lets derived data (probe files) be recomputed. */
  generation = 0;
  /** Bumped when slots are laid out afresh (load, full scan); memoized marks are per layout. */
  private layout = 0;
  /**
   * Copies whose Last-Modified had to be moved later: a copy that replaces another within the same second
   * (or with an older mtime) would otherwise carry the same date, and a client holding the old copy would
   * get a wrong 304 to If-Modified-Since. Keyed by path; good for the copy with that ctime.
   */
  private bumped = new Map<string, { ctimeMs: number; seconds: number }>();
  /** digestOf()'s strings by slot, for one layout; a slot's entry goes when its copy or hash changes. */
  private readonly digests = new Map<number, string>();
  private digestLayout = -1;
  /** Paths changed in memory whose write to the db failed; written with the next change. */
  private readonly unpersisted = new Set<string>();

  constructor(private readonly db: Db) {}

  lookup(path: string): FileEntry | undefined {
    const { slots, sizes, mtimes, ctimes } = this.files;
    const slot = slots.get(path);
    if (slot === undefined) return undefined;
    return { path, size: sizes[slot] as number, mtimeMs: mtimes[slot] as number, ctimeMs: ctimes[slot] as number, slot, layout: this.layout };
  }

  /**
   * `test` of a file's path, remembered per file until the slots are laid out again: a pattern match once
   * per file instead of once per request. Entries not from this layout's lookup() are tested afresh.
   */
  memoize(test: (path: string) => boolean): (file: FileEntry) => boolean {
    let layout = -1;
    let marks = new Uint8Array(0); // 0 unknown, 1 false, 2 true
    return (file) => {
      if (file.slot === undefined || file.layout !== this.layout) return test(file.path);
      if (layout !== this.layout || file.slot >= marks.length) {
        const grown = new Uint8Array(this.files.paths.length + 1024);
        if (layout === this.layout) grown.set(marks);
        layout = this.layout;
        marks = grown;
      }
      let mark = marks[file.slot];
      if (mark === 0) {
        mark = test(file.path) ? 2 : 1;
        marks[file.slot] = mark;
      }
      return mark === 2;
    };
  }

  get size(): number {
    return this.files.slots.size;
  }

  /**
   * The Last-Modified (unix seconds) this copy is served with: its mtime's second, unless an earlier copy
   * of the path already carried that date (then one second past that copy's).
   */
  lastModifiedSeconds(file: { readonly path: string; readonly mtimeMs: number; readonly ctimeMs: number }): number {
    if (this.bumped.size > 0) {
      const b = this.bumped.get(file.path);
      if (b !== undefined && b.ctimeMs === file.ctimeMs) return b.seconds;
    }
    return Math.floor(file.mtimeMs / 1000);
  }

  /** True when this copy's Last-Modified is not its mtime's (see lastModifiedSeconds): no mirror can match it. */
  lastModifiedMoved(file: FileEntry): boolean {
    return this.bumped.size > 0 && this.lastModifiedSeconds(file) !== Math.floor(file.mtimeMs / 1000);
  }

  *entries(): Generator<FileEntry> {
    const { paths, sizes, mtimes, ctimes } = this.files;
    for (let i = 0; i < paths.length; i++) {
      if (paths[i] === '') continue;
      yield { path: paths[i] as string, size: sizes[i] as number, mtimeMs: mtimes[i] as number, ctimeMs: ctimes[i] as number };
    }
  }

  /** Loads the persisted catalog; a million rows take a second or two. */
  load(): void {
    // Read the log's end first: a change written while we read is applied again by the next follow().
    const watermark = this.logEnd();
    const { n } = statement(this.db, 'SELECT COUNT(*) AS n FROM files').get() as { n: number };
    const files = empty();
    files.sizes = new Float64Array(n);
    files.mtimes = new Float64Array(n);
    files.ctimes = new Float64Array(n);
    files.hashes = new Uint8Array(n * HASH_BYTES);
    files.hashed = new Uint8Array(n);
    // Pages of LOAD_PAGE rows by key, never .iterate(): an iterator left to the GC aborts Node 24 (db/statements.ts).
    const page = statement(this.db, 'SELECT path, size, mtime_ms, ctime_ms, sha256 FROM files WHERE path > ? ORDER BY path LIMIT ? -- raw').raw();
    let after = '';
    for (let rows = page.all(after, LOAD_PAGE) as Row[]; rows.length > 0; rows = page.all(after, LOAD_PAGE) as Row[]) {
      for (const [path, size, mtimeMs, ctimeMs, sha256] of rows) {
        const i = files.paths.length;
        if (i === n) break; // rows added since the count: the next follow() sees them
        files.slots.set(path, i);
        files.sizes[i] = size;
        files.mtimes[i] = mtimeMs;
        files.ctimes[i] = ctimeMs;
        if (sha256 !== null) setHash(files, i, sha256);
        files.paths.push(path);
      }
      if (files.paths.length === n) break;
      after = (rows[rows.length - 1] as Row)[0];
    }
    this.files = files;
    this.layout += 1;
    this.generation += 1;
    this.listener?.reset();
    this.version = readMeta(this.db, 'catalog_version') ?? '';
    this.watermark = watermark;
  }

  /**
   * Catches up with changes another process (a worker's primary, `mirrorgate scan`) wrote: only the
   * changed paths, or a full load when the log says so or has been pruned past us. True if anything changed.
   */
  follow(): boolean {
    const version = readMeta(this.db, 'catalog_version') ?? '';
    if (version === this.version) return false;
    const rows = statement(this.db, 'SELECT seq, path FROM catalog_changes WHERE seq > ? ORDER BY seq LIMIT ?')
      .all(this.watermark, LOG_PATHS_MAX + 1) as { seq: number; path: string }[];
    const first = rows[0];
    const oldest = (statement(this.db, 'SELECT MIN(seq) AS s FROM catalog_changes').get() as { s: number | null }).s ?? 0;
    if (rows.length > LOG_PATHS_MAX || rows.some((r) => r.path === '') || (first !== undefined && first.seq > this.watermark + 1 && oldest > this.watermark + 1)) {
      this.load();
      return true;
    }
    const read = statement(this.db, 'SELECT size, mtime_ms AS mtimeMs, ctime_ms AS ctimeMs, sha256 FROM files WHERE path = ?');
    let changed = false;
    for (const { seq, path } of rows) {
      const row = read.get(path) as (FileStat & { sha256: string | null }) | undefined;
      changed = this.setEntry(path, row) !== undefined || changed;
      if (row?.sha256 != null) this.hashFound(path, row, row.sha256);
      this.watermark = seq;
    }
    this.version = version;
    if (changed) this.generation += 1;
    return changed;
  }

  /** Walks the repository (in a worker thread) and makes memory and the db match it, in one transaction. */
  async scan(root: string, signal?: AbortSignal, onWalked?: (scanned: ScanColumns) => void): Promise<ScanReport> {
    const started = performance.now();
    const scanned = await scanRepository(root, signal);
    const report = { ...this.apply(scanned), ms: Math.round(performance.now() - started) };
    onWalked?.(scanned);
    return report;
  }

  /** Replaces the catalog with `scanned`, writing only the differences. */
  apply(scanned: ScanColumns): Omit<ScanReport, 'ms'> {
    const previous = this.files;
    const n = scanned.paths.length;
    const next: Columns = {
      slots: new Map(), paths: new Array<string>(n), sizes: scanned.sizes, mtimes: scanned.mtimes, ctimes: scanned.ctimes,
      hashes: new Uint8Array(n * HASH_BYTES), hashed: new Uint8Array(n),
    };
    const changed: string[] = [];
    let added = 0;
    for (let i = 0; i < n; i++) {
      let path = scanned.paths[i] as string;
      const old = previous.slots.get(path);
      if (old === undefined) {
        added += 1;
        changed.push(path);
      } else {
        path = previous.paths[old] as string; // keep the old string; the scanned copy can go
        if (previous.sizes[old] !== next.sizes[i] || previous.mtimes[old] !== next.mtimes[i] || previous.ctimes[old] !== next.ctimes[i]) changed.push(path);
        else if (previous.hashed[old] === 1) {
          next.hashes.set(previous.hashes.subarray(old * HASH_BYTES, (old + 1) * HASH_BYTES), i * HASH_BYTES);
          next.hashed[i] = 1;
        }
      }
      next.paths[i] = path;
      next.slots.set(path, i);
    }
    const removed: string[] = [];
    for (const path of previous.slots.keys()) if (!next.slots.has(path)) removed.push(path);
    const report = { files: n, added, changed: changed.length - added, removed: removed.length };
    if (changed.length === 0 && removed.length === 0) {
      // Nothing changed: the current columns stay, and with them every slot and the generation.
      if (this.version === '' || this.unpersisted.size > 0) this.persist([], []);
      return report;
    }
    this.files = next;
    this.layout += 1;
    this.generation += 1;
    if (this.listener !== undefined) {
      for (const path of changed) if (!previous.slots.has(path)) this.listener.added(path);
      for (const path of removed) this.listener.removed(path);
    }
    this.persist(changed, removed);
    return report;
  }

  /**
   * Applies changes seen by the watcher or by a stat at serve time: memory first (answers rely on it at
   * once), then the db. A failed write is kept and retried with the next change; the error is thrown
   * for the caller to log. Returns what changed.
   */
  patch(updates: readonly PathUpdate[]): { added: number; changed: number; removed: number } {
    // Another process wrote since we last looked: take its changes first, so ours land on top.
    if (this.version !== '' && (readMeta(this.db, 'catalog_version') ?? '') !== this.version) this.follow();
    const counts = { added: 0, changed: 0, removed: 0 };
    const touched: string[] = [];
    const gone: string[] = [];
    for (const { path, stat } of updates) {
      const what = this.setEntry(path, stat);
      if (what === undefined) continue;
      counts[what] += 1;
      (what === 'removed' ? gone : touched).push(path);
    }
    if (touched.length > 0 || gone.length > 0) {
      this.generation += 1;
      this.persist(touched, gone);
    }
    return counts;
  }

  /**
   * The database was replaced under us (runtime/runtime.ts): writes the whole catalog from memory, which
   * is the truth, and tells other processes to load it all.
   */
  rewriteAll(): void {
    statement(this.db, 'DELETE FROM files').run();
    for (const path of this.files.slots.keys()) this.unpersisted.add(path);
    this.persist([], []);
  }

  /** The database was replaced under us: follow its log from its start, whatever we had read before. */
  followAfresh(): void {
    this.watermark = 0;
    this.version = '(reopened)';
  }

  /**
   * The sha256 of this copy as base64 (the form of Repr-Digest and Digest), or undefined until the hasher
   * has read it. Memory only: the redirect path asks on every request.
   */
  digestOf(file: FileEntry): string | undefined {
    const slot = this.slotOf(file);
    if (slot === undefined) return undefined;
    // The base64 of recently asked files, by slot: a Map lookup instead of an encoding per redirect.
    if (this.digestLayout !== this.layout) {
      this.digests.clear();
      this.digestLayout = this.layout;
    }
    let digest = this.digests.get(slot);
    if (digest === undefined) {
      digest = this.hashBytes(slot).toString('base64');
      if (this.digests.size >= DIGESTS_KEPT) this.digests.clear();
      this.digests.set(slot, digest);
    }
    return digest;
  }

  /** The same as lowercase hex (sha256sum's form). */
  sha256Of(file: FileEntry): string | undefined {
    const slot = this.slotOf(file);
    return slot === undefined ? undefined : this.hashBytes(slot).toString('hex');
  }

  private hashBytes(slot: number): Buffer {
    const { hashes } = this.files;
    return Buffer.from(hashes.buffer, hashes.byteOffset + slot * HASH_BYTES, HASH_BYTES);
  }

  /**
   * The hasher read this copy: stores its sha256 and piece hashes, if the copy is still the catalog's,
   * and logs the path so other processes pick the hash up. False when the copy changed meanwhile.
   */
  recordHash(path: string, copy: FileStat, sha256: string, pieceBytes: number, pieces: Buffer): boolean {
    const store = statement(this.db, 'UPDATE files SET sha256 = ?, piece_bytes = ?, pieces = ? WHERE path = ? AND size = ? AND mtime_ms = ? AND ctime_ms = ?');
    let stored = false;
    this.db.transaction(() => {
      stored = store.run(sha256, pieceBytes, pieces, path, copy.size, copy.mtimeMs, copy.ctimeMs).changes === 1;
      if (!stored) return;
      statement(this.db, 'INSERT INTO catalog_changes (path) VALUES (?)').run(path);
      // Only the version moves: this copy's memory is current, and a follower reads the hash with the row.
      const behind = (readMeta(this.db, 'catalog_version') ?? '') !== this.version;
      const end = this.newVersion();
      if (!behind) this.watermark = end;
      else this.version = '(behind)';
    })();
    if (stored) this.hashFound(path, copy, sha256);
    return stored;
  }

  /** Piece hashes of this copy for Metalink, or undefined until hashed. Reads the db: not for the redirect path. */
  piecesOf(file: FileStat & { readonly path: string }): { readonly pieceBytes: number; readonly hashes: string[] } | undefined {
    const row = statement(this.db, 'SELECT piece_bytes AS pieceBytes, pieces FROM files WHERE path = ? AND size = ? AND mtime_ms = ? AND ctime_ms = ? AND sha256 IS NOT NULL')
      .get(file.path, file.size, file.mtimeMs, file.ctimeMs) as { pieceBytes: number | null; pieces: Buffer | null } | undefined;
    if (row?.pieceBytes == null || row.pieces == null) return undefined;
    const hashes: string[] = [];
    for (let at = 0; at + HASH_BYTES <= row.pieces.length; at += HASH_BYTES) hashes.push(row.pieces.subarray(at, at + HASH_BYTES).toString('hex'));
    return { pieceBytes: row.pieceBytes, hashes };
  }

  /** Memory only: the hash of a copy, kept when the copy is still the one in memory. */
  private hashFound(path: string, copy: FileStat, sha256: string): void {
    const slot = this.files.slots.get(path);
    if (slot === undefined || this.files.sizes[slot] !== copy.size || this.files.mtimes[slot] !== copy.mtimeMs || this.files.ctimes[slot] !== copy.ctimeMs) return;
    setHash(this.files, slot, sha256);
    this.digests.delete(slot);
  }

  private slotOf(file: FileEntry): number | undefined {
    const files = this.files;
    const slot = file.slot !== undefined && file.layout === this.layout ? file.slot : files.slots.get(file.path);
    if (slot === undefined || files.hashed[slot] !== 1) return undefined;
    if (files.sizes[slot] !== file.size || files.mtimes[slot] !== file.mtimeMs || files.ctimes[slot] !== file.ctimeMs) return undefined;
    return slot;
  }

  /** Retries db writes that failed earlier (called by the runtime's loop). */
  retryPersist(): void {
    if (this.unpersisted.size > 0) this.persist([], []);
  }

  get pendingWrites(): number {
    return this.unpersisted.size;
  }

  /** Memory only: sets or removes one path. */
  private setEntry(path: string, stat: FileStat | undefined): 'added' | 'changed' | 'removed' | undefined {
    const files = this.files;
    const slot = files.slots.get(path);
    if (stat === undefined) {
      if (slot === undefined) return undefined;
      files.slots.delete(path);
      files.paths[slot] = '';
      files.sizes[slot] = -1;
      this.listener?.removed(path);
      return 'removed';
    }
    if (slot !== undefined) {
      if (files.sizes[slot] === stat.size && files.mtimes[slot] === stat.mtimeMs && files.ctimes[slot] === stat.ctimeMs) return undefined;
      const before = this.lastModifiedSeconds({ path, mtimeMs: files.mtimes[slot] as number, ctimeMs: files.ctimes[slot] as number });
      if (Math.floor(stat.mtimeMs / 1000) <= before) {
        if (this.bumped.size >= 100_000) this.bumped = new Map();
        this.bumped.set(path, { ctimeMs: stat.ctimeMs, seconds: before + 1 });
      }
      files.sizes[slot] = stat.size;
      files.mtimes[slot] = stat.mtimeMs;
      files.ctimes[slot] = stat.ctimeMs;
      files.hashed[slot] = 0;
      this.digests.delete(slot);
      return 'changed';
    }
    const at = files.paths.length;
    if (at === files.sizes.length) {
      const capacity = Math.max(1024, Math.ceil(at * 1.25));
      files.sizes = grow(files.sizes, capacity);
      files.mtimes = grow(files.mtimes, capacity);
      files.ctimes = grow(files.ctimes, capacity);
      const hashes = new Uint8Array(capacity * HASH_BYTES);
      hashes.set(files.hashes);
      files.hashes = hashes;
      const hashed = new Uint8Array(capacity);
      hashed.set(files.hashed);
      files.hashed = hashed;
    }
    files.paths.push(path);
    files.slots.set(path, at);
    files.sizes[at] = stat.size;
    files.mtimes[at] = stat.mtimeMs;
    files.ctimes[at] = stat.ctimeMs;
    files.hashed[at] = 0;
    this.listener?.added(path);
    return 'added';
  }

  /** In a write transaction: prunes the change log, writes a new catalog_version; returns the log's end. */
  private newVersion(): number {
    const end = this.logEnd();
    statement(this.db, 'DELETE FROM catalog_changes WHERE seq <= ?').run(end - LOG_KEEP);
    this.version = `${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    writeMeta(this.db, 'catalog_version', this.version);
    return end;
  }

  private logEnd(): number {
    return (statement(this.db, 'SELECT MAX(seq) AS s FROM catalog_changes').get() as { s: number | null }).s ?? 0;
  }

  /** Writes the given paths' current state (and any earlier failed writes) in one transaction. */
  private persist(changed: readonly string[], removed: readonly string[]): void {
    for (const path of changed) this.unpersisted.add(path);
    for (const path of removed) this.unpersisted.add(path);
    // The hash cache (sha256) survives only while the copy is the same.
    const upsert = statement(this.db, `
      INSERT INTO files (path, size, mtime_ms, ctime_ms, sha256) VALUES (?, ?, ?, ?, NULL)
      ON CONFLICT(path) DO UPDATE SET
        sha256 = CASE WHEN files.size = excluded.size AND files.mtime_ms = excluded.mtime_ms AND files.ctime_ms = excluded.ctime_ms
          THEN files.sha256 END,
        pieces = CASE WHEN files.size = excluded.size AND files.mtime_ms = excluded.mtime_ms AND files.ctime_ms = excluded.ctime_ms
          THEN files.pieces END,
        size = excluded.size, mtime_ms = excluded.mtime_ms, ctime_ms = excluded.ctime_ms`);
    const remove = statement(this.db, 'DELETE FROM files WHERE path = ?');
    const log = statement(this.db, 'INSERT INTO catalog_changes (path) VALUES (?)');
    const paths = [...this.unpersisted];
    this.db.transaction(() => {
      for (const path of paths) {
        const entry = this.lookup(path);
        if (entry === undefined) remove.run(path);
        else upsert.run(path, entry.size, entry.mtimeMs, entry.ctimeMs);
      }
      if (paths.length > LOG_PATHS_MAX) log.run('');
      else for (const path of paths) log.run(path);
      this.watermark = this.newVersion();
    })();
    this.unpersisted.clear();
  }
}

type Row = [string, number, number, number, string | null];

function setHash(files: Columns, slot: number, hex: string): void {
  if (hex.length !== HASH_BYTES * 2) return;
  files.hashes.set(Buffer.from(hex, 'hex'), slot * HASH_BYTES);
  files.hashed[slot] = 1;
}

function grow(column: Float64Array, capacity: number): Float64Array {
  const grown = new Float64Array(capacity);
  grown.set(column);
  return grown;
}
