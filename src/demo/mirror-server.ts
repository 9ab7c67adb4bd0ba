// A small static HTTP mirror for the demo and the tests: serves a directory with Content-Length,
// Last-Modified, ETag and single Range support, and can be told to misbehave (the probing tests switch
// it between healthy, erroring and hanging). Listens on loopback only (127.0.0.1, or another 127/8 address).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Transform } from 'node:stream';

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
  /** Paths whose Content-Length this mirror misreports (an incomplete or other copy). */
  readonly wrongSize: Map<string, number>;
  /** Paths whose Last-Modified this mirror reports as given (an old copy). */
  readonly lastModified: Map<string, Date>;
  /** Paths whose body this mirror serves from these bytes instead of the directory's (another copy). */
  readonly content: Map<string, Buffer>;
  /** false: answers every request as if Range were not sent (200 with the whole body). */
  ranges: boolean;
  /** Body bytes per second for GETs; 0 = as fast as possible. */
  throttleBytesPerSecond: number;
  /** Requests seen, as "METHOD /path". */
  readonly log: string[];
  /** Stop listening: connections are refused until start(). */
  stop(): Promise<void>;
  /** Listen again on the same port. */
  start(): Promise<void>;
  /** Closes every open connection (keep-alive ones too), still listening: clients must connect anew. */
  dropConnections(): void;
  close(): Promise<void>;
}

type State = Pick<MirrorServer, 'behaviour' | 'missing' | 'wrongSize' | 'lastModified' | 'content' | 'ranges' | 'throttleBytesPerSecond' | 'log'>;

export async function startMirrorServer(root: string, port = 0, host = '127.0.0.1'): Promise<MirrorServer> {
  const state: State = {
    behaviour: { kind: 'healthy' }, missing: new Set(), wrongSize: new Map(), lastModified: new Map(), content: new Map(), ranges: true,
    throttleBytesPerSecond: 0, log: [],
  };
  const server: Server = createServer((req, res) => {
    state.log.push(`${req.method} ${req.url}`);
    const b = state.behaviour;
    if (b.kind === 'hang') return;
    if (b.kind === 'status') {
      res.writeHead(b.status, { 'content-type': 'text/plain' }).end(`status ${b.status}\n`);
      return;
    }
    serveFile(root, state, req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  const listen = (p: number) => new Promise<void>((resolve) => server.listen(p, host, resolve));
  const stop = () => new Promise<void>((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.closeAllConnections();
    server.close(() => resolve());
  });
  await listen(port);
  const actual = (server.address() as AddressInfo).port;
  return Object.assign(state, {
    url: `http://${host}:${actual}/`,
    port: actual,
    stop,
    start: () => listen(actual),
    dropConnections: () => server.closeAllConnections(),
    close: stop,
  });
}

async function serveFile(root: string, state: State, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const rel = normalize(decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/')).replace(/^\/+/, '');
  if (rel.startsWith('..') || state.missing.has(rel)) {
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
    'last-modified': (state.lastModified.get(rel) ?? s.mtime).toUTCString(),
    etag: `"${s.size.toString(16)}-${Math.trunc(s.mtimeMs).toString(16)}"`,
    'accept-ranges': 'bytes',
    'content-type': 'application/octet-stream',
  };
  const other = state.content.get(rel);
  const size = other?.length ?? s.size;
  let start = 0;
  let end = size - 1;
  const range = state.ranges ? /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '') : null;
  if (range && Number(range[1]) < size) {
    start = Number(range[1]);
    end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
    headers['content-range'] = `bytes ${start}-${end}/${size}`;
  }
  headers['content-length'] = state.wrongSize.get(rel) ?? Math.max(0, end - start + 1);
  res.writeHead(range ? 206 : 200, headers);
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return;
  }
  if (other !== undefined) {
    res.end(other.subarray(start, end + 1));
    return;
  }
  const body = createReadStream(file, { start, end });
  // The file can vanish between stat and open (a sync in progress, a test's repository removed): the
  // answer is then cut short, as a real mirror's would be, instead of the process dying.
  body.on('error', () => res.destroy());
  if (state.throttleBytesPerSecond > 0) body.pipe(throttle(state.throttleBytesPerSecond)).pipe(res);
  else body.pipe(res);
}

/** Passes bytes through at about `rate` bytes per second (in 50 ms slices). */
function throttle(rate: number): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const slice = Math.max(1, Math.floor(rate / 20));
      const parts: Buffer[] = [];
      for (let i = 0; i < chunk.length; i += slice) parts.push(chunk.subarray(i, i + slice));
      const push = () => {
        const part = parts.shift();
        if (part === undefined) {
          done();
          return;
        }
        this.push(part);
        setTimeout(push, 50);
      };
      push();
    },
  });
}
