// The catalog's directories, for index pages: which names each directory holds. Built from the catalog
// on the first listing asked for (a server whose clients never list pays nothing), then kept up path by
// path as the catalog changes. Only catalog paths are in it, so dotfiles and anything else the scan
// skips never show.
import type { Catalog, PathListener } from './catalog.js';

export interface DirectoryEntry {
  readonly name: string;
  readonly directory: boolean;
}

export class DirectoryIndex implements PathListener {
  /** Directory path ('' is the root) → child name → is it a directory. Undefined until first asked. */
  private dirs: Map<string, Map<string, boolean>> | undefined;

  constructor(private readonly catalog: Catalog) {
    catalog.listener = this;
  }

  /** Is this path a directory of the catalog? The root always is. */
  isDirectory(path: string): boolean {
    return path === '' || this.index().has(path);
  }

  /** The directory's entries, unsorted; undefined when it is not a directory. */
  list(path: string): DirectoryEntry[] | undefined {
    const children = this.index().get(path);
    if (children === undefined) return path === '' ? [] : undefined;
    return [...children].map(([name, directory]) => ({ name, directory }));
  }

  added(path: string): void {
    if (this.dirs === undefined) return;
    let child = path;
    let directory = false;
    for (;;) {
      const cut = child.lastIndexOf('/');
      const parent = cut === -1 ? '' : child.slice(0, cut);
      let children = this.dirs.get(parent);
      const existed = children !== undefined;
      if (children === undefined) {
        children = new Map();
        this.dirs.set(parent, children);
      }
      children.set(child.slice(cut + 1), directory);
      if (existed || parent === '') return;
      child = parent;
      directory = true;
    }
  }

  removed(path: string): void {
    if (this.dirs === undefined) return;
    let child = path;
    for (;;) {
      const cut = child.lastIndexOf('/');
      const parent = cut === -1 ? '' : child.slice(0, cut);
      const children = this.dirs.get(parent);
      if (children === undefined) return;
      children.delete(child.slice(cut + 1));
      // An emptied directory goes too (the repository's empty directories are not listed either).
      if (children.size > 0 || parent === '') return;
      this.dirs.delete(parent);
      child = parent;
    }
  }

  reset(): void {
    this.dirs = undefined;
  }

  private index(): Map<string, Map<string, boolean>> {
    if (this.dirs === undefined) {
      this.dirs = new Map();
      for (const { path } of this.catalog.entries()) this.added(path);
    }
    return this.dirs;
  }
}
