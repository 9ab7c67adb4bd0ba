// Walks the repository in a child process (scan-worker.ts): either into the catalog's database (the
// differences written there, by a connection of the child's own) or, for the watcher, directories only.
import { fork } from 'node:child_process';
import type { Db } from '../db/open.js';
import type { ScanColumns, ScanJob, ScanWritten } from './scan-worker.js';

export type { ScanColumns, ScanWritten } from './scan-worker.js';

/** Walks `root` and makes the `files` table of `db` match it. `signal` ends the walk at once. */
export function scanIntoDb(root: string, db: Db, signal?: AbortSignal): Promise<ScanWritten> {
  if (db.memory) return Promise.reject(new Error('the catalog needs a database file (its scan writes from another thread)'));
  return runWorker<ScanWritten>({ root, filesToo: true, db: db.name }, signal);
}

/**
 * Every directory under `root` ('' is the root), and with `filesToo` every regular file in columns.
 * `signal` ends the walk at once (shutdown must not wait for a million stats).
 */
export function scanRepository(root: string, signal?: AbortSignal, filesToo = true): Promise<ScanColumns> {
  return runWorker<ScanColumns>({ root, filesToo }, signal);
}

function runWorker<T>(job: ScanJob, signal?: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(Object.assign(new Error('scan aborted'), { code: 'ABORT_ERR' }));
      return;
    }
    // From src/ (the tests) the child is TypeScript too, loaded as this process loads it; from dist/ it is JavaScript.
    const script = new URL(import.meta.url.endsWith('.ts') ? './scan-worker.ts' : './scan-worker.js', import.meta.url);
    // 'advanced': the columns are typed arrays. The child's output is the server's (its errors come back as messages).
    const child = fork(script, [], { env: { ...process.env, MIRRORGATE_SCAN_CHILD: '1', MIRRORGATE_SCAN_PARENT: String(process.pid) }, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = () => settle(() => {
      reject(Object.assign(new Error('scan aborted'), { code: 'ABORT_ERR' }));
      child.kill('SIGKILL'); // a write in progress is rolled back with its connection
    });
    signal?.addEventListener('abort', onAbort, { once: true });
    child.once('message', (msg: { ok: true; result: T } | { ok: false; message: string; code?: string }) => settle(() => {
      if (msg.ok) resolve(msg.result);
      else reject(Object.assign(new Error(msg.message), { code: msg.code }));
    }));
    child.once('error', (err) => settle(() => reject(err)));
    child.once('exit', (code, sig) => settle(() => reject(new Error(`scan process exited with ${code ?? sig}`))));
    child.send(job);
  });
}
