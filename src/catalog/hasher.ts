// Computes the sha256 of catalog files in the background, a few at a time, and caches it in the `files`
// row. The cache key is (path, size, mtime, ctime): the UPDATE matches all four, so a file that changed
// while being hashed keeps a NULL hash and is picked up after the next change or scan.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { statement, type Db } from '../db/open.js';

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
    this.running = this.run().finally(() => {
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
    const store = statement(this.db, 'UPDATE files SET sha256 = ? WHERE path = ? AND size = ? AND mtime_ms = ? AND ctime_ms = ?');
    let after = '';
    for (;;) {
      const rows = page.all(after, PAGE) as { path: string; size: number; mtime_ms: number; ctime_ms: number }[];
      if (rows.length === 0) return;
      after = rows.at(-1)?.path ?? after;
      for (let i = 0; i < rows.length; i += Math.max(1, this.concurrency())) {
        const batch = rows.slice(i, i + Math.max(1, this.concurrency()));
        await Promise.all(batch.map(async (row) => {
          if (this.abort.signal.aborted) return;
          const digest = await this.hashIfUnchanged(row.path, row.size, row.mtime_ms, row.ctime_ms);
          if (digest !== undefined) store.run(digest, row.path, row.size, row.mtime_ms, row.ctime_ms);
        }));
        if (this.abort.signal.aborted) return;
      }
    }
  }

  private async hashIfUnchanged(path: string, size: number, mtimeMs: number, ctimeMs: number): Promise<string | undefined> {
    const file = join(this.root(), path);
    const same = (s: { size: number; mtimeMs: number; ctimeMs: number }) =>
      s.size === size && Math.trunc(s.mtimeMs) === mtimeMs && Math.trunc(s.ctimeMs) === ctimeMs;
    try {
      if (!same(await stat(file))) return undefined;
      const hash = createHash('sha256');
      await pipeline(createReadStream(file, { signal: this.abort.signal }), hash);
      // Written while we read: the hash is of neither copy.
      if (!same(await stat(file))) return undefined;
      return hash.digest('hex');
    } catch (err) {
      if (!this.abort.signal.aborted) this.log.warn({ path, err: (err as Error).message }, 'cannot hash file');
      return undefined;
    }
  }
}
