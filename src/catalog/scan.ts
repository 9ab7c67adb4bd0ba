// Walks the repository in a worker thread (scan-worker.ts): either into the catalog's database (the
// differences written there, by a connection of the thread's own) or, for the watcher, directories only.
import { Worker } from 'node:worker_threads';
import type { Db } from '../db/open.js';
import type { ScanColumns, ScanWritten } from './scan-worker.js';

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

function runWorker<T>(workerData: { root: string; filesToo: boolean; db?: string }, signal?: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(Object.assign(new Error('scan aborted'), { code: 'ABORT_ERR' }));
      return;
    }
    // From src/ (the tests) the worker is TypeScript too; from dist/ it is JavaScript.
    const script = new URL(import.meta.url.endsWith('.ts') ? './scan-worker.ts' : './scan-worker.js', import.meta.url);
    const worker = new Worker(script, { workerData });
    let settled = false;
    const onAbort = () => {
      if (settled) return;
      settled = true;
      reject(Object.assign(new Error('scan aborted'), { code: 'ABORT_ERR' }));
      void worker.terminate(); // a write in progress is rolled back with its connection
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('exit', () => signal?.removeEventListener('abort', onAbort));
    worker.once('message', (msg: { ok: true; result: T } | { ok: false; message: string; code?: string }) => {
      if (settled) return;
      settled = true;
      if (msg.ok) resolve(msg.result);
      else reject(Object.assign(new Error(msg.message), { code: msg.code }));
    });
    worker.once('error', (err) => {
      if (!settled) reject(err);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`scan worker exited with ${code}`));
    });
  });
}
