// The catalog: every file of the repository, held in memory for the redirect path and persisted in the
// `files` table so a restart does not need a rescan. Owns the `files` table (see migrations/001) and the
// `catalog_version` meta key, which every change bumps so other processes know to reload.
//
// Memory is columnar, for catalogs of a million files: a Map from path to slot, and the sizes and
// mtimes in typed arrays (about 100 bytes a file with the path string, against ~300 for an object each).
import type { Db } from '../db/open.js';
import { readMeta, writeMeta } from '../db/open.js';
import { scanRepository, type ScanColumns } from './scan.js';

export interface FileEntry {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
  /** Where lookup() found it: its slot in that catalog generation (see memoize). */
  readonly slot?: number;
  readonly generation?: number;
}

export interface ScanReport {
  readonly files: number;
  readonly added: number;
  readonly changed: number;
  readonly removed: number;
  readonly ms: number;
}

interface Columns {
  readonly slots: Map<string, number>;
  readonly paths: readonly string[];
  readonly sizes: Float64Array;
  readonly mtimes: Float64Array;
}

const EMPTY: Columns = { slots: new Map(), paths: [], sizes: new Float64Array(0), mtimes: new Float64Array(0) };

export class Catalog {
  private files: Columns = EMPTY;
  /** The catalog_version this copy reflects; compared with the db's to spot another process's scan. */
  private version = '';
  /** Bumped whenever the in-memory catalog is replaced; lets derived data be cached per generation. */
  generation = 0;

  constructor(private readonly db: Db) {}

  lookup(path: string): FileEntry | undefined {
    const { slots, sizes, mtimes } = this.files;
    const slot = slots.get(path);
    return slot === undefined ? undefined : { path, size: sizes[slot] as number, mtimeMs: mtimes[slot] as number, slot, generation: this.generation };
  }

  /**
   * `test` of a file's path, remembered per file until the catalog changes: a pattern match once per
   * file instead of once per request. Entries not from this generation's lookup() are tested afresh.
   */
  memoize(test: (path: string) => boolean): (file: FileEntry) => boolean {
    let generation = -1;
    let marks = new Uint8Array(0); // 0 unknown, 1 false, 2 true
    return (file) => {
      if (file.slot === undefined || file.generation !== this.generation) return test(file.path);
      if (generation !== this.generation) {
        generation = this.generation;
        marks = new Uint8Array(this.size);
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
    return this.files.paths.length;
  }

  *entries(): Generator<FileEntry> {
    const { paths, sizes, mtimes } = this.files;
    for (let i = 0; i < paths.length; i++) yield { path: paths[i] as string, size: sizes[i] as number, mtimeMs: mtimes[i] as number };
  }

  /** Loads the persisted catalog; a million rows take a second or two. */
  load(): void {
    const { n } = this.db.prepare('SELECT COUNT(*) AS n FROM files').get() as { n: number };
    const paths: string[] = [];
    const sizes = new Float64Array(n);
    const mtimes = new Float64Array(n);
    const slots = new Map<string, number>();
    const rows = this.db.prepare('SELECT path, size, mtime_ms FROM files').raw().iterate() as IterableIterator<[string, number, number]>;
    for (const [path, size, mtimeMs] of rows) {
      if (paths.length === n) break; // rows added since the count: the next load sees them
      slots.set(path, paths.length);
      sizes[paths.length] = size;
      mtimes[paths.length] = mtimeMs;
      paths.push(path);
    }
    this.files = { slots, paths, sizes: sizes.subarray(0, paths.length), mtimes: mtimes.subarray(0, paths.length) };
    this.generation += 1;
    this.version = readMeta(this.db, 'catalog_version') ?? '';
  }

  /** Reloads when another process (a `mirrorgate scan`, another worker) changed the catalog. */
  reloadIfChanged(): boolean {
    const version = readMeta(this.db, 'catalog_version') ?? '';
    if (version === this.version) return false;
    this.load();
    return true;
  }

  /** Walks the repository (in a worker thread) and makes memory and the db match it, in one transaction. */
  async scan(root: string, signal?: AbortSignal): Promise<ScanReport> {
    const started = performance.now();
    const scanned = await scanRepository(root, signal);
    return { ...this.apply(scanned), ms: Math.round(performance.now() - started) };
  }

  /** Replaces the catalog with `scanned`, writing only the differences. */
  apply(scanned: ScanColumns): Omit<ScanReport, 'ms'> {
    const previous = this.files;
    const n = scanned.paths.length;
    const slots = new Map<string, number>();
    const paths: string[] = new Array<string>(n);
    const changedSlots: number[] = [];
    let added = 0;
    for (let i = 0; i < n; i++) {
      let path = scanned.paths[i] as string;
      const old = previous.slots.get(path);
      if (old === undefined) {
        added += 1;
        changedSlots.push(i);
      } else {
        path = previous.paths[old] as string; // keep the old string; the scanned copy can go
        if (previous.sizes[old] !== scanned.sizes[i] || previous.mtimes[old] !== scanned.mtimes[i]) changedSlots.push(i);
      }
      paths[i] = path;
      slots.set(path, i);
    }
    const removed: string[] = [];
    for (const path of previous.paths) if (!slots.has(path)) removed.push(path);
    const next: Columns = { slots, paths, sizes: scanned.sizes, mtimes: scanned.mtimes };
    if (changedSlots.length > 0 || removed.length > 0 || this.version === '') this.persist(next, changedSlots, removed);
    // Nothing changed: the current columns stay, and with them every slot and the generation.
    if (changedSlots.length > 0 || removed.length > 0) {
      this.files = next;
      this.generation += 1;
    }
    return { files: n, added, changed: changedSlots.length - added, removed: removed.length };
  }

  private persist(next: Columns, changedSlots: readonly number[], removed: readonly string[]): void {
    // sha256 survives only while size and mtime are unchanged: that is the hash cache's key.
    const upsert = this.db.prepare(`
      INSERT INTO files (path, size, mtime_ms, sha256) VALUES (?, ?, ?, NULL)
      ON CONFLICT(path) DO UPDATE SET
        sha256 = CASE WHEN files.size = excluded.size AND files.mtime_ms = excluded.mtime_ms THEN files.sha256 END,
        size = excluded.size, mtime_ms = excluded.mtime_ms`);
    const remove = this.db.prepare('DELETE FROM files WHERE path = ?');
    this.db.transaction(() => {
      for (const i of changedSlots) upsert.run(next.paths[i], next.sizes[i], next.mtimes[i]);
      for (const path of removed) remove.run(path);
      this.version = `${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
      writeMeta(this.db, 'catalog_version', this.version);
    })();
  }
}
