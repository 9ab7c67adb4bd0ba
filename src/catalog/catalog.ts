// The catalog: every file of the repository, held in memory for the redirect path and persisted in the
// `files` table so a restart does not need a rescan. Owns the `files` table (see migrations/001) and the
// `catalog_version` meta key, which every change bumps so other processes know to reload.
import type { Db } from '../db/open.js';
import { readMeta, writeMeta } from '../db/open.js';
import { scanRepository, type ScannedFile } from './scan.js';

export interface FileEntry {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface ScanReport {
  readonly files: number;
  readonly added: number;
  readonly changed: number;
  readonly removed: number;
  readonly ms: number;
}

export class Catalog {
  private files = new Map<string, FileEntry>();
  /** The catalog_version this copy reflects; compared with the db's to spot another process's scan. */
  private version = '';
  /** Bumped whenever the in-memory catalog is replaced; lets derived data be cached per generation. */
  generation = 0;

  constructor(private readonly db: Db) {}

  lookup(path: string): FileEntry | undefined {
    return this.files.get(path);
  }

  get size(): number {
    return this.files.size;
  }

  entries(): IterableIterator<FileEntry> {
    return this.files.values();
  }

  /** Loads the persisted catalog; cheap enough for start-up with a million rows. */
  load(): void {
    const files = new Map<string, FileEntry>();
    const rows = this.db.prepare('SELECT path, size, mtime_ms FROM files').raw().iterate() as IterableIterator<[string, number, number]>;
    for (const [path, size, mtimeMs] of rows) files.set(path, { path, size, mtimeMs });
    this.files = files;
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

  /** Walks the repository and makes memory and the db match it, in one transaction. */
  async scan(root: string): Promise<ScanReport> {
    const started = performance.now();
    const scanned = await scanRepository(root);
    return { ...this.apply(scanned), ms: Math.round(performance.now() - started) };
  }

  /** Replaces the catalog with `scanned`, writing only the differences. */
  apply(scanned: readonly ScannedFile[]): Omit<ScanReport, 'ms'> {
    const previous = this.files;
    const next = new Map<string, FileEntry>();
    const upserts: FileEntry[] = [];
    for (const file of scanned) {
      const old = previous.get(file.path);
      if (old !== undefined && old.size === file.size && old.mtimeMs === file.mtimeMs) {
        next.set(old.path, old);
      } else {
        const entry: FileEntry = { path: file.path, size: file.size, mtimeMs: file.mtimeMs };
        next.set(entry.path, entry);
        upserts.push(entry);
      }
    }
    const removed: string[] = [];
    for (const path of previous.keys()) if (!next.has(path)) removed.push(path);
    const added = upserts.filter((f) => !previous.has(f.path)).length;
    if (upserts.length > 0 || removed.length > 0 || this.version === '') this.persist(upserts, removed);
    if (upserts.length > 0 || removed.length > 0) this.generation += 1;
    this.files = next;
    return { files: next.size, added, changed: upserts.length - added, removed: removed.length };
  }

  private persist(upserts: readonly FileEntry[], removed: readonly string[]): void {
    // sha256 survives only while size and mtime are unchanged: that is the hash cache's key.
    const upsert = this.db.prepare(`
      INSERT INTO files (path, size, mtime_ms, sha256) VALUES (?, ?, ?, NULL)
      ON CONFLICT(path) DO UPDATE SET
        sha256 = CASE WHEN files.size = excluded.size AND files.mtime_ms = excluded.mtime_ms THEN files.sha256 END,
        size = excluded.size, mtime_ms = excluded.mtime_ms`);
    const remove = this.db.prepare('DELETE FROM files WHERE path = ?');
    this.db.transaction(() => {
      for (const f of upserts) upsert.run(f.path, f.size, f.mtimeMs);
      for (const path of removed) remove.run(path);
      this.version = `${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
      writeMeta(this.db, 'catalog_version', this.version);
    })();
  }
}
