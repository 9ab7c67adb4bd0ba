// One MMDB file, read where it lies (paged-mmdb.ts: the OS page cache holds it once for every worker)
// and opened anew when the file on disk is replaced (checked by the owner calling refresh(), e.g. every
// 30 s: new inode, mtime or size → open, verify, then swap; the old file stays readable by its open
// descriptor until then). A missing or corrupt file is not fatal: get() answers null until a good file appears.
import { stat } from 'node:fs/promises';
import { PagedMmdbReader } from './paged-mmdb.js';

/** What a record is: an object of the file's own layout (records.ts reads it). */
export type Response = Record<string, unknown>;

/**
 * Readers opened and verified, by path and stamp: a reload that rebuilds the locator, or a second app in
 * one process (the tests), reuses the reader (and its pages) instead of opening and verifying it again.
 */
const opened = new Map<string, PagedMmdbReader>();
const OPENED_KEPT = 4;

/** Lookups a new file must answer, spread over the address space, before it replaces the current one. */
const VERIFY_LOOKUPS = 4096;

export class MmdbFile {
  private reader: PagedMmdbReader | null = null;
  /** Lookups that threw (a corrupt node the verification did not reach). */
  lookupErrors = 0;
  private stamp = '';
  /** Why the file is not usable, for logs and /_mirrorgate/health; undefined when it is. */
  problem: string | undefined = 'not loaded yet';

  constructor(readonly path: string) {}

  /** null also for an IPv6 address asked of an IPv4-only file, which would answer garbage. */
  get(ip: string, family: 4 | 6): Response | null {
    if (this.reader === null || (family === 6 && this.reader.metadata.ipVersion === 4)) return null;
    return this.reader.get(ip) as Response | null;
  }

  get loaded(): boolean {
    return this.reader !== null;
  }

  /** Loads the file if it changed since the last call; true when a new version was loaded. */
  async refresh(): Promise<boolean> {
    let stamp: string;
    try {
      const s = await stat(this.path);
      stamp = `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch (err) {
      this.problem = `cannot read ${this.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      return false;
    }
    if (stamp === this.stamp) return false;
    try {
      const key = `${this.path}\0${stamp}`;
      let reader = opened.get(key);
      if (reader === undefined) {
        const candidate = new PagedMmdbReader(this.path);
        try {
          verify(candidate);
        } catch (err) {
          candidate.close();
          throw err;
        }
        reader = candidate;
        if (opened.size >= OPENED_KEPT) opened.delete(opened.keys().next().value as string);
        opened.set(key, reader);
      }
      // Only a file that opened and answered every sample replaces the one in use.
      this.reader = reader;
      this.stamp = stamp;
      this.problem = undefined;
      return true;
    } catch (err) {
      this.problem = this.reader === null
        ? `cannot open ${this.path}: ${(err as Error).message}`
        : `refused the new ${this.path}, still using the one loaded before: ${(err as Error).message}`;
      return false;
    }
  }
}

/**
 * Looks up VERIFY_LOOKUPS addresses spread over the whole IPv4 space (and as many IPv6 ones in 2000::/3
 * for an IPv6 file): a file whose metadata and search tree are intact but whose data is corrupt throws
 * or answers non-records for many of them. Throws what it found.
 */
export function verify(reader: PagedMmdbReader): void {
  const addresses: string[] = [];
  for (let i = 0; i < VERIFY_LOOKUPS; i++) {
    const n = (Math.imul(i, 2654435761) >>> 0) ^ (i << 7);
    addresses.push(`${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`);
    if (reader.metadata.ipVersion === 6) {
      const hex = (x: number) => (x & 0xffff).toString(16);
      addresses.push(`${hex(0x2000 | ((n >>> 16) & 0x1fff))}:${hex(n)}:${hex(n >>> 5)}:${hex(i)}::1`);
    }
  }
  for (const ip of addresses) {
    let record: unknown;
    try {
      record = reader.get(ip);
    } catch (err) {
      throw new Error(`corrupt data: the lookup of ${ip} failed (${(err as Error).message})`, { cause: err });
    }
    if (record !== null && (typeof record !== 'object' || Array.isArray(record))) {
      throw new Error(`corrupt data: ${ip} has a ${Array.isArray(record) ? 'list' : typeof record} where a record belongs`);
    }
  }
}
