// Outbound HTTP for the probes: the only module that imports got (content checks' GETs and the bounded
// timestamp read are in content-client.ts, on node:http). Every request has an explicit timeout,
// no retries, a User-Agent naming mirrorgate, follows no redirect on its own, and is cancelled by the
// prober's AbortSignal on shutdown. Results are values, never exceptions.
import got, { type Response } from 'got';
import { getBytes, getDigest, getText } from './content-client.js';

export const USER_AGENT = 'mirrorgate/0.1 (download redirector health probe)';

/** 'local': the failure is ours (out of file descriptors, ports, buffers), never the mirror's. */
export type ProbeFailureKind = 'timeout' | 'refused' | 'network' | 'aborted' | 'local';

/** Errors of this host's own resources: probing pauses on them instead of blaming a mirror. */
const LOCAL_ERRORS = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'EADDRNOTAVAIL', 'ENOMEM', 'EAI_MEMORY']);

export function kindOf(code: string | undefined): ProbeFailureKind {
  if (code === 'ECONNREFUSED') return 'refused';
  return code !== undefined && LOCAL_ERRORS.has(code) ? 'local' : 'network';
}

export type HeadResult =
  | {
    readonly ok: true;
    readonly status: number;
    readonly contentLength: number | undefined;
    readonly lastModified: number | undefined;
    readonly etag: string | undefined;
    readonly location: string | undefined;
    readonly latencyMs: number;
  }
  | { readonly ok: false; readonly kind: ProbeFailureKind; readonly message: string; readonly latencyMs: number };

export type RangeResult =
  | { readonly ok: true; readonly status: number; readonly bytes: number; readonly ttfbMs: number; readonly transferMs: number }
  | { readonly ok: false; readonly kind: ProbeFailureKind | 'http'; readonly message: string };

/** A whole copy fetched and hashed: what a content check of a small or volatile file sees. */
export type DigestResult =
  | {
    readonly ok: true;
    readonly status: number;
    readonly lastModified: number | undefined;
    /** Body bytes received (at most limit + 1: more means the copy is larger than ours). */
    readonly bytes: number;
    readonly sha256: string | undefined;
  }
  | { readonly ok: false; readonly kind: ProbeFailureKind | 'http'; readonly message: string };

/** One byte range fetched: what a sampled content check of a large file sees. */
export type BytesResult =
  | {
    readonly ok: true;
    readonly status: number;
    readonly lastModified: number | undefined;
    /** The copy's total size from Content-Range (206) or Content-Length (200). */
    readonly totalSize: number | undefined;
    /** Where the body starts in the copy (from Content-Range; 0 for a 200). */
    readonly offset: number;
    readonly body: Buffer;
  }
  | { readonly ok: false; readonly kind: ProbeFailureKind | 'http'; readonly message: string };

/** The probe client's contract; tests may substitute one, the real one is below. */
export interface ProbeHttp {
  head(url: string, timeoutMs: number, signal: AbortSignal): Promise<HeadResult>;
  /** GETs at most `bytes` bytes (asking with Range, cutting off a server that ignores it). */
  getRange(url: string, bytes: number, timeoutMs: number, signal: AbortSignal): Promise<RangeResult>;
  /** GETs a small text body (a sync timestamp file, at most 4 KiB); undefined on any failure. */
  getText(url: string, timeoutMs: number, signal: AbortSignal): Promise<string | undefined>;
  /** GETs the whole body and hashes it (sha256), reading at most `limit` + 1 bytes. */
  getDigest(url: string, limit: number, timeoutMs: number, signal: AbortSignal): Promise<DigestResult>;
  /** GETs bytes [offset, offset + length) with a Range request; a server ignoring Range is cut off after `length`. */
  getBytes(url: string, offset: number, length: number, timeoutMs: number, signal: AbortSignal): Promise<BytesResult>;
}

const client = got.extend({
  retry: { limit: 0 },
  followRedirect: false,
  throwHttpErrors: false,
  decompress: false,
  headers: { 'user-agent': USER_AGENT },
});

export const gotProbeHttp: ProbeHttp = {
  async head(url, timeoutMs, signal) {
    const started = performance.now();
    try {
      const res: Response = await client(url, { method: 'HEAD', timeout: { request: timeoutMs }, signal });
      const length = res.headers['content-length'];
      const modified = res.headers['last-modified'];
      return {
        ok: true,
        status: res.statusCode,
        contentLength: length === undefined ? undefined : Number(length),
        lastModified: modified === undefined ? undefined : Date.parse(modified) || undefined,
        etag: res.headers.etag,
        location: res.headers.location,
        latencyMs: performance.now() - started,
      };
    } catch (err) {
      return { ok: false, ...failure(err, timeoutMs), latencyMs: performance.now() - started };
    }
  },

  async getRange(url, bytes, timeoutMs, signal) {
    const started = performance.now();
    return new Promise<RangeResult>((resolve) => {
      let ttfb = 0;
      let received = 0;
      let status = 0;
      let settled = false;
      const stream = client.stream(url, {
        headers: { range: `bytes=0-${bytes - 1}` },
        timeout: { request: timeoutMs * 4 },
        signal,
      });
      const finish = (result: RangeResult) => {
        if (settled) return;
        settled = true;
        stream.destroy();
        resolve(result);
      };
      const done = () => finish({ ok: true, status, bytes: received, ttfbMs: ttfb, transferMs: performance.now() - started - ttfb });
      stream.on('response', (res: { statusCode: number }) => {
        status = res.statusCode;
        ttfb = performance.now() - started;
        if (status !== 200 && status !== 206) finish({ ok: false, kind: 'http', message: `HTTP ${status}` });
      });
      stream.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received >= bytes) done();
      });
      stream.on('end', done);
      stream.on('error', (err: unknown) => finish({ ok: false, ...failure(err, timeoutMs * 4) }));
    });
  },

  getText: (url, timeoutMs, signal) => getText(url, timeoutMs, signal),

  // Content checks: node:http, see content-client.ts for why.
  getDigest: (url, limit, timeoutMs, signal) => getDigest(url, limit, timeoutMs * 4, signal),
  getBytes,
};

function failure(err: unknown, timeoutMs: number): { kind: ProbeFailureKind; message: string } {
  const code = (err as { code?: string }).code;
  const name = (err as { name?: string }).name;
  if (name === 'AbortError' || code === 'ERR_ABORTED' || code === 'ABORT_ERR') return { kind: 'aborted', message: 'aborted' };
  if (code === 'ETIMEDOUT' || name === 'TimeoutError') return { kind: 'timeout', message: `timeout after ${timeoutMs} ms` };
  if (code === 'ECONNREFUSED') return { kind: 'refused', message: 'connection refused' };
  return { kind: kindOf(code), message: code ?? (err as Error).message };
}
