// The content checks' HTTP: ranged and whole GETs whose bytes are compared or hashed. Plain node:http
// and node:https with keep-alive agents rather than got: a check is four small GETs that a first request
// may be waiting for, and got's per-request machinery measured 7-35 ms for four loopback GETs against
// 1-2 ms here (bench/lib/churn.ts, cold start). Same contract as the rest of the probe client: explicit
// timeout, no retries, no redirects followed, a User-Agent, cancelled by the prober's signal, results
// as values.
import { createHash } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { BytesResult, DigestResult, ProbeFailureKind } from './http-client.js';
import { USER_AGENT, kindOf } from './http-client.js';

/** The most a sync timestamp file may hold; a longer body is not a timestamp. */
export const MAX_TEXT_BYTES = 4096;

const agents = {
  http: new HttpAgent({ keepAlive: true, maxSockets: 16, timeout: 30_000 }),
  https: new HttpsAgent({ keepAlive: true, maxSockets: 16, timeout: 30_000 }),
};

type Head = { ok: true; status: number; headers: IncomingMessage['headers'] } | { ok: false; kind: ProbeFailureKind; message: string };

/** GETs `url`, handing body chunks to `onData` until it returns false; resolves once the body ended or was cut. */
function get(url: string, headers: Record<string, string>, timeoutMs: number, signal: AbortSignal, onData: (chunk: Buffer) => boolean): Promise<Head> {
  return new Promise((resolve) => {
    let settled = false;
    const target = new URL(url);
    const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const agent = target.protocol === 'https:' ? agents.https : agents.http;
    const finish = (result: Head) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const req = request(target, { method: 'GET', agent, headers: { 'user-agent': USER_AGENT, ...headers } }, (res) => {
      const head: Head = { ok: true, status: res.statusCode ?? 0, headers: res.headers };
      if (head.status !== 200 && head.status !== 206) {
        finish(head);
        res.destroy(); // an error page's body is not read: it could be endless
        return;
      }
      res.on('data', (chunk: Buffer) => {
        if (!settled && !onData(chunk)) {
          finish(head);
          res.destroy(); // the rest is not needed; the connection is not reused
        }
      });
      res.on('end', () => finish(head));
      res.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, kind: kindOf(err.code), message: err.code ?? err.message }));
    });
    const timer = setTimeout(() => {
      finish({ ok: false, kind: 'timeout', message: `timeout after ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    const onAbort = () => {
      finish({ ok: false, kind: 'aborted', message: 'aborted' });
      req.destroy();
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, kind: kindOf(err.code), message: err.code ?? err.message }));
    req.end();
  });
}

function lastModifiedOf(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Date.parse(value) || undefined;
}

export async function getBytes(url: string, offset: number, length: number, timeoutMs: number, signal: AbortSignal): Promise<BytesResult> {
  const parts: Buffer[] = [];
  let received = 0;
  const head = await get(url, { range: `bytes=${offset}-${offset + length - 1}` }, timeoutMs, signal, (chunk) => {
    parts.push(chunk);
    received += chunk.length;
    return received < length;
  });
  if (!head.ok) return head;
  const range = /^bytes (\d+)-\d+\/(\d+)$/.exec(head.headers['content-range'] ?? '');
  const length0 = head.headers['content-length'];
  return {
    ok: true,
    status: head.status,
    lastModified: lastModifiedOf(head.headers['last-modified']),
    totalSize: range ? Number(range[2]) : head.status === 200 && length0 !== undefined ? Number(length0) : undefined,
    offset: range ? Number(range[1]) : 0,
    body: Buffer.concat(parts).subarray(0, length),
  };
}

export async function getDigest(url: string, limit: number, timeoutMs: number, signal: AbortSignal): Promise<DigestResult> {
  const hash = createHash('sha256');
  let bytes = 0;
  const head = await get(url, {}, timeoutMs, signal, (chunk) => {
    bytes += chunk.length;
    if (bytes > limit + 1) return false;
    hash.update(chunk);
    return true;
  });
  if (!head.ok) return head;
  return {
    ok: true,
    status: head.status,
    lastModified: lastModifiedOf(head.headers['last-modified']),
    bytes,
    sha256: head.status === 200 && bytes <= limit ? hash.digest('hex') : undefined,
  };
}

/** A small text body (a sync timestamp file): undefined unless 200 and at most MAX_TEXT_BYTES. */
export async function getText(url: string, timeoutMs: number, signal: AbortSignal): Promise<string | undefined> {
  const parts: Buffer[] = [];
  let received = 0;
  const head = await get(url, {}, timeoutMs, signal, (chunk) => {
    received += chunk.length;
    if (received <= MAX_TEXT_BYTES) parts.push(chunk);
    return received <= MAX_TEXT_BYTES;
  });
  if (!head.ok || head.status !== 200 || received > MAX_TEXT_BYTES) return undefined;
  return Buffer.concat(parts).toString('utf8');
}
