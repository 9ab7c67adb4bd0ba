// Walks the repository in a worker thread (scan-worker.ts) and hands back every regular file in columns.
import { Worker } from 'node:worker_threads';
import type { ScanColumns } from './scan-worker.js';

export type { ScanColumns } from './scan-worker.js';

/**
 * `signal` ends the walk at once (shutdown must not wait for a million stats). `filesToo: false` lists
 * only the directories (for the watcher's set-up).
 */
export function scanRepository(root: string, signal?: AbortSignal, filesToo = true): Promise<ScanColumns> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(Object.assign(new Error('scan aborted'), { code: 'ABORT_ERR' }));
      return;
    }
    // From src/ (the tests) the worker is TypeScript too; from dist/ it is JavaScript.
    const script = new URL(import.meta.url.endsWith('.ts') ? './scan-worker.ts' : './scan-worker.js', import.meta.url);
    const worker = new Worker(script, { workerData: { root, filesToo } });
    let settled = false;
    const onAbort = () => {
      if (settled) return;
      settled = true;
      reject(Object.assign(new Error('scan aborted'), { code: 'ABORT_ERR' }));
      void worker.terminate();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('exit', () => signal?.removeEventListener('abort', onAbort));
    worker.once('message', (msg: { ok: true; result: ScanColumns } | { ok: false; message: string; code?: string }) => {
      if (settled) return;
      settled = true;
      if (msg.ok) resolve(msg.result);
      else reject(Object.assign(new Error(msg.message), { code: msg.code }));
      void worker.terminate();
    });
    worker.once('error', (err) => {
      if (!settled) reject(err);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`scan worker exited with ${code}`));
    });
  });
}
