// One MMDB file, read into memory with the maxmind reader and re-read when the file on disk is replaced
// (checked by the owner calling refresh(), e.g. every 30 s: new mtime or size → reopen, then swap).
// A missing or corrupt file is not fatal: get() answers null until a good file appears.
import { stat } from 'node:fs/promises';
import maxmind, { type Reader, type Response } from 'maxmind';

export class MmdbFile {
  private reader: Reader<Response> | null = null;
  private stamp = '';
  /** Why the file is not usable, for logs and /_mirrorgate/health; undefined when it is. */
  problem: string | undefined = 'not loaded yet';

  constructor(readonly path: string) {}

  /** null also for an IPv6 address asked of an IPv4-only file, which would answer garbage. */
  get(ip: string, family: 4 | 6): Response | null {
    if (this.reader === null || (family === 6 && this.reader.metadata.ipVersion === 4)) return null;
    return this.reader.get(ip);
  }

  get loaded(): boolean {
    return this.reader !== null;
  }

  /** Loads the file if it changed since the last call; true when a new version was loaded. */
  async refresh(): Promise<boolean> {
    let stamp: string;
    try {
      const s = await stat(this.path);
      stamp = `${s.size}:${s.mtimeMs}`;
    } catch (err) {
      this.problem = `cannot read ${this.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      return false;
    }
    if (stamp === this.stamp) return false;
    try {
      this.reader = await maxmind.open<Response>(this.path);
      this.stamp = stamp;
      this.problem = undefined;
      return true;
    } catch (err) {
      this.problem = `cannot open ${this.path}: ${(err as Error).message}`;
      return false;
    }
  }
}
