// Watches the repository so the catalog follows the master's changes within a second: one inotify watch
// per directory through node's own fs.watch (not recursive: on Linux, node's recursive mode walks and
// watches every file, which a million files cannot afford). Events only name a path; the path is then
// stat'ed and the catalog patched, in batches. That covers rsync's write-to-temp-then-rename (the temp is
// a dotfile and ignored; the rename names the final file), removal, and whole directories moved in or out.
// Same rules as the scan: dotfiles and dot-directories skipped, symlinks to files followed, to
// directories not. The periodic rescan stays as the safety net for anything missed (inotify's queue
// overflowing, the watch limit reached).
import { watch, type FSWatcher } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import type { FileStat, PathUpdate } from './catalog.js';

export interface WatcherLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface WatcherDeps {
  readonly root: string;
  /** Called with each batch of changed paths (already stat'ed). */
  readonly apply: (updates: PathUpdate[]) => void;
  /** Catalog paths under a directory prefix ("a/b/"): a removed directory removes them all. */
  readonly pathsUnder: (prefix: string) => string[];
  /** Every directory of the repository ('' the root), listed off the main thread. */
  readonly listDirectories: () => Promise<string[]>;
  readonly log: WatcherLog;
}

const BATCH_MS = 50;
/** fs.watch calls per turn of the event loop while setting up, so serving never waits long. */
const WATCH_CHUNK = 500;

export interface WatchReport {
  readonly directories: number;
  readonly ms: number;
  /** true when the inotify watch limit was reached: part of the tree is covered by the rescan only. */
  readonly limited: boolean;
}

export class RepositoryWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  private dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private stopped = false;
  private limited = false;
  /** While a full scan runs: paths changed meanwhile, re-stat'ed after it lands (it may have older data). */
  private duringScan: Set<string> | undefined;
  /** Changes applied so far (for metrics and tests). */
  applied = 0;

  constructor(private readonly deps: WatcherDeps) {}

  get directories(): number {
    return this.watchers.size;
  }

  /**
   * Lists the directories (in a child process) and watches each, a chunk per turn of the event loop. A
   * directory made between the listing and its parent's watch is picked up by the full scan that follows
   * (ensureWatched); a file changed in between, by that scan.
   */
  async start(): Promise<WatchReport> {
    const started = performance.now();
    await this.ensureWatched(await this.deps.listDirectories());
    return { directories: this.watchers.size, ms: Math.round(performance.now() - started), limited: this.limited };
  }

  /** Watches every listed directory not watched yet (after each full scan: nothing stays unwatched for long). */
  async ensureWatched(dirs: readonly string[]): Promise<void> {
    for (let i = 0; i < dirs.length && !this.stopped; i++) {
      const dir = dirs[i] as string;
      if (!this.watchers.has(dir) && !this.watchDir(dir) && this.limited) break; // the watch limit: logged once
      if (i % WATCH_CHUNK === WATCH_CHUNK - 1) await new Promise((r) => setImmediate(r));
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  /** Resolves once every change seen so far is in the catalog. */
  async settled(): Promise<void> {
    while (this.dirty.size > 0 || this.flushing !== undefined) {
      if (this.flushing === undefined) this.schedule(0);
      await (this.flushing ?? new Promise((r) => setTimeout(r, BATCH_MS)));
    }
  }

  beginScan(): void {
    this.duringScan = new Set();
  }

  /** After a full scan landed: whatever changed while it ran is looked at again. */
  endScan(): void {
    const seen = this.duringScan;
    this.duringScan = undefined;
    if (seen === undefined || seen.size === 0) return;
    for (const path of seen) this.dirty.add(path);
    this.schedule(0);
  }

  /** Watches a directory that appeared (and everything under it), and reports the files it already holds. */
  private async watchTree(rel: string): Promise<void> {
    const pending = [rel];
    let sinceYield = 0;
    while (pending.length > 0 && !this.stopped) {
      const dir = pending.pop() as string;
      if (!this.watchDir(dir)) continue;
      // Watch first, then list: a file created in between is seen by one or the other.
      let entries;
      try {
        entries = await readdir(this.abs(dir), { withFileTypes: true });
      } catch {
        continue; // removed meanwhile
      }
      for (const entry of entries) {
        if (entry.name.startsWith('.')) continue;
        const path = dir === '' ? entry.name : `${dir}/${entry.name}`;
        if (entry.isDirectory()) pending.push(path);
        else this.mark(path);
      }
      if (++sinceYield >= WATCH_CHUNK) {
        sinceYield = 0;
        await new Promise((r) => setImmediate(r));
      }
    }
  }

  private watchDir(dir: string): boolean {
    if (this.watchers.has(dir)) return true;
    try {
      const w = watch(this.abs(dir), { persistent: false }, (_event, name) => {
        if (name === null) return void this.rescanDir(dir);
        const file = String(name);
        if (file.startsWith('.')) return;
        this.mark(dir === '' ? file : `${dir}/${file}`);
      });
      w.on('error', () => {
        w.close();
        if (this.watchers.get(dir) === w) this.watchers.delete(dir);
        if (dir !== '') this.mark(dir); // the directory itself went away: its parent's event handles it
      });
      this.watchers.set(dir, w);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EMFILE') {
        if (!this.limited) {
          this.deps.log.warn({ directory: dir, code, watched: this.watchers.size },
            'cannot watch more directories (raise fs.inotify.max_user_watches); the rest is covered by the periodic rescan only');
        }
        this.limited = true;
      }
      return false;
    }
  }

  /** An event without a name: look at the whole directory again. */
  private async rescanDir(dir: string): Promise<void> {
    for (const path of this.deps.pathsUnder(dir === '' ? '' : `${dir}/`)) this.mark(path);
    await this.watchTree(dir);
  }

  private mark(path: string): void {
    if (this.stopped) return;
    this.dirty.add(path);
    this.duringScan?.add(path);
    this.schedule(BATCH_MS);
  }

  private schedule(ms: number): void {
    if (this.timer !== undefined || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.flushing !== undefined) return this.schedule(BATCH_MS);
      this.flushing = this.flush().finally(() => {
        this.flushing = undefined;
        if (this.dirty.size > 0) this.schedule(0);
      });
    }, ms);
  }

  private async flush(): Promise<void> {
    const paths = [...this.dirty];
    this.dirty = new Set();
    const updates: PathUpdate[] = [];
    await Promise.all(paths.map(async (path) => {
      const found = await this.look(path);
      if (found === 'directory') return;
      if (found === undefined && this.watchers.has(path)) this.forgetTree(path, updates);
      updates.push({ path, stat: found });
    }));
    if (updates.length === 0 || this.stopped) return;
    try {
      this.deps.apply(updates);
      this.applied += updates.length;
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message, paths: updates.length }, 'cannot apply repository changes; retrying');
      for (const u of updates) this.dirty.add(u.path);
    }
  }

  /** A file's stat, 'directory' (now watched and walked), or undefined when it is not a file we serve. */
  private async look(path: string): Promise<FileStat | 'directory' | undefined> {
    try {
      const l = await lstat(this.abs(path));
      if (l.isDirectory()) {
        if (!this.watchers.has(path)) await this.watchTree(path);
        return 'directory';
      }
      const s = l.isSymbolicLink() ? await stat(this.abs(path)) : l;
      if (!s.isFile()) return undefined;
      return { size: s.size, mtimeMs: Math.trunc(s.mtimeMs), ctimeMs: Math.trunc(s.ctimeMs) };
    } catch {
      return undefined;
    }
  }

  /** A directory went away: stop watching it and everything under it, and remove its files. */
  private forgetTree(dir: string, updates: PathUpdate[]): void {
    const prefix = `${dir}/`;
    for (const [name, w] of this.watchers) {
      if (name === dir || name.startsWith(prefix)) {
        w.close();
        this.watchers.delete(name);
      }
    }
    for (const path of this.deps.pathsUnder(prefix)) updates.push({ path, stat: undefined });
  }

  private abs(rel: string): string {
    const root = this.deps.root.endsWith('/') ? this.deps.root : `${this.deps.root}/`;
    return root + rel;
  }
}
