// Walks the repository in a worker thread (scan-worker.ts) and hands back every regular file in columns.
import { Worker } from 'node:worker_threads';
import type { ScanColumns } from './scan-worker.js';

export type { ScanColumns } from './scan-worker.js';

export function scanRepository(root: string): Promise<ScanColumns> {
  return new Promise((resolve, reject) => {
    // From src/ (the tests) the worker is TypeScript too; from dist/ it is JavaScript.
    const script = new URL(import.meta.url.endsWith('.ts') ? './scan-worker.ts' : './scan-worker.js', import.meta.url);
    const worker = new Worker(script, { workerData: { root } });
    let settled = false;
    worker.once('message', (msg: { ok: true; result: ScanColumns } | { ok: false; message: string; code?: string }) => {
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
