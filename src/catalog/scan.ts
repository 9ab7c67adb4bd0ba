// Walks the repository and reports every regular file (following symlinks to files, not to directories,
// so a link loop cannot trap the walk). Dotfiles and dot-directories are skipped: they are rsync's
// half-written temporaries, VCS metadata and the like, never something to send people to.
import { opendir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface ScannedFile {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

const STAT_CONCURRENCY = 64;

export async function scanRepository(root: string): Promise<ScannedFile[]> {
  const out: ScannedFile[] = [];
  const pending: string[] = [''];
  while (pending.length > 0) {
    const rel = pending.pop() as string;
    const links: string[] = [];
    const files: string[] = [];
    let dir;
    try {
      dir = await opendir(join(root, rel), { bufferSize: 256 });
    } catch (err) {
      if (rel === '') throw err;
      continue; // a directory removed while we walk
    }
    for await (const entry of dir) {
      if (entry.name.startsWith('.')) continue;
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) pending.push(path);
      else if (entry.isFile()) files.push(path);
      else if (entry.isSymbolicLink()) links.push(path);
    }
    await statAll(root, files, out);
    await statAll(root, links, out);
  }
  return out;
}

async function statAll(root: string, paths: string[], out: ScannedFile[]): Promise<void> {
  for (let i = 0; i < paths.length; i += STAT_CONCURRENCY) {
    const batch = paths.slice(i, i + STAT_CONCURRENCY);
    const stats = await Promise.all(batch.map((p) => stat(join(root, p)).catch(() => undefined)));
    stats.forEach((s, j) => {
      if (s === undefined || !s.isFile()) return; // vanished, or a link to a directory/device
      out.push({ path: batch[j] as string, size: s.size, mtimeMs: Math.trunc(s.mtimeMs) });
    });
  }
}
