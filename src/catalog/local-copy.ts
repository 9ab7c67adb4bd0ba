// Reads the repository's own copy of a file for content checks: its sha256 (from the hash cache when it
// is for this very copy, else computed and remembered) and its bytes at given ranges. Every read holds one
// open file and compares its fstat with the catalog entry before and after, so the answer is about the
// copy the catalog names, or it is `changed` with what is on disk now (the caller patches the catalog).
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { statement, type Db } from '../db/open.js';
import { sameCopy, type FileStat } from './catalog.js';
import type { FileRef } from '../probing/freshness.js';
import type { ByteRange } from '../probing/freshness.js';

export type LocalRead<T> =
  | { readonly ok: true; readonly value: T }
  /** The file on disk is another copy (or gone: stat undefined). */
  | { readonly ok: false; readonly changed: FileStat | undefined };

const HASHES_KEPT = 10_000;
const CHUNK = 1 << 20;

export class LocalCopy {
  /** sha256 of copies hashed here, by path (dropped wholesale past HASHES_KEPT). */
  private hashes = new Map<string, { copy: FileStat; sha256: string }>();

  constructor(private readonly db: Db, private readonly root: () => string) {}

  /** Looked up per use, not held: the connection behind `db` can be replaced (DbFile). */
  private get cachedHash() {
    return statement(this.db, 'SELECT sha256 FROM files WHERE path = ? AND size = ? AND mtime_ms = ? AND ctime_ms = ? -- pluck').pluck();
  }

  async sha256(file: FileRef): Promise<LocalRead<string>> {
    const stored = this.cachedHash.get(file.path, file.size, file.mtimeMs, file.ctimeMs) as string | null | undefined;
    if (typeof stored === 'string') return { ok: true, value: stored };
    const known = this.hashes.get(file.path);
    if (known !== undefined && sameCopy(known.copy, file)) return { ok: true, value: known.sha256 };
    const read = await this.withCopy(file, async (handle) => {
      const hash = createHash('sha256');
      const buffer = Buffer.allocUnsafe(CHUNK);
      for (let at = 0; at < file.size;) {
        const { bytesRead } = await handle.read(buffer, 0, Math.min(CHUNK, file.size - at), at);
        if (bytesRead === 0) break;
        hash.update(buffer.subarray(0, bytesRead));
        at += bytesRead;
      }
      return hash.digest('hex');
    });
    if (read.ok) {
      if (this.hashes.size >= HASHES_KEPT) this.hashes = new Map();
      this.hashes.set(file.path, { copy: file, sha256: read.value });
    }
    return read;
  }

  /** Our bytes at these ranges; the reads run at once (a first request may be waiting on them). */
  async ranges(file: FileRef, ranges: readonly ByteRange[]): Promise<LocalRead<Buffer[]>> {
    return this.withCopy(file, (handle) => Promise.all(ranges.map(async (r) => {
      const buffer = Buffer.alloc(r.length);
      const { bytesRead } = await handle.read(buffer, 0, r.length, r.offset);
      return buffer.subarray(0, bytesRead);
    })));
  }

  /**
   * Runs `work` on our open copy, checking by fstat that it is the copy the catalog names. The first
   * fstat runs beside the work (the work's result is dropped if it fails); the one after catches a
   * write during the reads. A rename over the file does not matter: the handle keeps the copy it opened.
   */
  private async withCopy<T>(file: FileRef, work: (handle: FileHandle) => Promise<T>): Promise<LocalRead<T>> {
    let handle: FileHandle;
    try {
      handle = await open(join(this.root(), file.path), 'r');
    } catch {
      return { ok: false, changed: undefined };
    }
    try {
      const [before, value] = await Promise.all([handle.stat().then(statOf), work(handle)]);
      if (!sameCopy(before, file)) return { ok: false, changed: before };
      const after = statOf(await handle.stat());
      return sameCopy(after, file) ? { ok: true, value } : { ok: false, changed: after };
    } finally {
      void handle.close().catch(() => undefined);
    }
  }
}

function statOf(s: { size: number; mtimeMs: number; ctimeMs: number }): FileStat {
  return { size: s.size, mtimeMs: Math.trunc(s.mtimeMs), ctimeMs: Math.trunc(s.ctimeMs) };
}
