// Computes the sha256 of catalog files in the background, a few at a time, with their Metalink piece
// hashes in the same read, and caches both in the `files` row (Catalog.recordHash). The cache key is
// (path, size, mtime, ctime): the UPDATE matches all four, so a file that changed while being hashed
// keeps a NULL hash and is picked up after the next change or scan.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { statement, type Db } from '../db/open.js';
import type { Catalog } from './catalog.js';
import { PieceHasher, pieceBytesFor } from './pieces.js';

export interface HasherLog {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

const PAGE = 64;

export class Hasher {
  private running: Promise<void> | undefined;
  private again = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly db: Db,
    private readonly catalog: Catalog,
    private readonly root: () => string,
    private readonly concurrency: () => number,
    private readonly log: HasherLog,
  ) {}

  /** Starts a pass over unhashed files, or schedules another pass after the running one. */
  kick(): void {
    if (this.abort.signal.aborted || this.concurrency() === 0) return;
    if (this.running) {
      this.again = true;
      return;
    }
    // A database that fails mid-pass ends the pass, logged; the next change or scan starts another.
    this.running = this.run().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'hashing pass stopped')).finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** Resolves when the current pass (and any pass it scheduled) has finished. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running?.catch(() => undefined);
  }

  private async run(): Promise<void> {
    const page = statement(this.db, 
      'SELECT path, size, mtime_ms, ctime_ms FROM files WHERE sha256 IS NULL AND path > ? ORDER BY path LIMIT ?');
    let after = '';
    for (;;) {
      const rows = page.all(after, PAGE) as { path: string; size: number; mtime_ms: number; ctime_ms: number }[];
      if (rows.length === 0) return;
      after = rows.at(-1)?.path ?? after;
      for (let i = 0; i < rows.length; i += Math.max(1, this.concurrency())) {
        const batch = rows.slice(i, i + Math.max(1, this.concurrency()));
        await Promise.all(batch.map(async (row) => {
          if (this.abort.signal.aborted) return;
          const read = await this.hashIfUnchanged(row.path, row.size, row.mtime_ms, row.ctime_ms);
          if (read === undefined) return;
          const copy = { size: row.size, mtimeMs: row.mtime_ms, ctimeMs: row.ctime_ms };
          try {
            this.catalog.recordHash(row.path, copy, read.sha256, read.pieceBytes, read.pieces);
          } catch (err) {
            // A busy or failing database: the hash is lost, not the process; the next pass reads it again.
            this.log.warn({ path: row.path, err: (err as Error).message }, 'cannot store hash');
          }
        }));
        if (this.abort.signal.aborted) return;
      }
    }
  }

  private async hashIfUnchanged(path: string, size: number, mtimeMs: number, ctimeMs: number): Promise<{ sha256: string; pieceBytes: number; pieces: Buffer } | undefined> {
    const file = join(this.root(), path);
    const same = (s: { size: number; mtimeMs: number; ctimeMs: number }) =>
      s.size === size && Math.trunc(s.mtimeMs) === mtimeMs && Math.trunc(s.ctimeMs) === ctimeMs;
    try {
      if (!same(await stat(file))) return undefined;
      const hasher = new PieceHasher(pieceBytesFor(size));
      await pipeline(createReadStream(file, { signal: this.abort.signal }), hasher);
      // Written while we read: the hash is of neither copy.
      if (!same(await stat(file))) return undefined;
      return { ...hasher.result(), pieceBytes: hasher.pieceBytes };
    } catch (err) {
      if (!this.abort.signal.aborted) this.log.warn({ path, err: (err as Error).message }, 'cannot hash file');
      return undefined;
    }
  }
}
