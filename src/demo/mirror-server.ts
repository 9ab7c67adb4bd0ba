// A small static HTTP mirror for the demo and the tests: serves a directory with Content-Length,
// Last-Modified, ETag and single Range support, and can be told to misbehave (the probing tests switch
// it between healthy, erroring and hanging). Listens on loopback only.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';

export type MirrorBehaviour =
  | { readonly kind: 'healthy' }
  /** Answer every request with this status. */
  | { readonly kind: 'status'; readonly status: number }
  /** Accept the connection and never answer. */
  | { readonly kind: 'hang' };

export interface MirrorServer {
  readonly url: string;
  readonly port: number;
  behaviour: MirrorBehaviour;
  /** Paths (relative, no leading '/') this mirror pretends not to have. */
  readonly missing: Set<string>;
  /** Requests seen, as "METHOD /path". */
  readonly log: string[];
  close(): Promise<void>;
}

export async function startMirrorServer(root: string, port = 0): Promise<MirrorServer> {
  const state: Pick<MirrorServer, 'behaviour' | 'missing' | 'log'> = { behaviour: { kind: 'healthy' }, missing: new Set(), log: [] };
  const server: Server = createServer((req, res) => {
    state.log.push(`${req.method} ${req.url}`);
    const b = state.behaviour;
    if (b.kind === 'hang') return;
    if (b.kind === 'status') {
      res.writeHead(b.status, { 'content-type': 'text/plain' }).end(`status ${b.status}\n`);
      return;
    }
    serveFile(root, state.missing, req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  return Object.assign(state, {
    url: `http://127.0.0.1:${actual}/`,
    port: actual,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  });
}

async function serveFile(root: string, missing: Set<string>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const rel = normalize(decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/')).replace(/^\/+/, '');
  if (rel.startsWith('..') || missing.has(rel)) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  const file = join(root, rel);
  const s = await stat(file).catch(() => undefined);
  if (s === undefined || !s.isFile()) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  const headers: Record<string, string | number> = {
    'last-modified': s.mtime.toUTCString(),
    etag: `"${s.size.toString(16)}-${Math.trunc(s.mtimeMs).toString(16)}"`,
    'accept-ranges': 'bytes',
    'content-type': 'application/octet-stream',
  };
  let start = 0;
  let end = s.size - 1;
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (range && Number(range[1]) < s.size) {
    start = Number(range[1]);
    end = range[2] ? Math.min(Number(range[2]), s.size - 1) : s.size - 1;
    headers['content-range'] = `bytes ${start}-${end}/${s.size}`;
  }
  headers['content-length'] = Math.max(0, end - start + 1);
  res.writeHead(range ? 206 : 200, headers);
  if (req.method === 'HEAD' || s.size === 0) {
    res.end();
    return;
  }
  createReadStream(file, { start, end }).pipe(res);
}
