// The request path: normalise → a view (checksum, Metalink, mirror list)? → look up (not a file: a
// directory or 404, routes/views.ts) → small file? serve it : select a mirror → count → 302 with Link and
// digest headers.
// A redirect reads only in-memory state; the counters are flushed to SQLite by a timer elsewhere. Two
// slower paths, never taken by a file that has a verified mirror: a large file no mirror is known to
// hold waits briefly for checks (runtime/first-request.ts), and a file served from the repository is
// first stat'ed, so that what is served and what the catalog (and so every redirect) says agree.
import { stat } from 'node:fs/promises';
import { METHODS } from 'node:http';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { normalizeRequestPath, encodePath } from '../catalog/request-path.js';
import { sameCopy, type FileEntry, type FileStat } from '../catalog/catalog.js';
import { chooseMirror, rankMirrors } from '../selection/select.js';
import { duplicateLink, metalinkLink, setDigestHeaders } from '../clients/headers.js';
import { clientOf } from '../http/client.js';
import { selectionInput } from '../runtime/selection-input.js';
import { awaitVerifiedMirror, mayWait } from '../runtime/first-request.js';
import type { SelectionInput } from '../selection/select.js';
import type { ClientInfo } from '../http/client-address.js';
import { FALLBACK, LOCAL } from '../counters/counters.js';
import { expectedBytes } from '../http/range.js';
import { Views, viewOf } from './views.js';
import type { Runtime } from '../runtime/runtime.js';
import { mirrorBase, type Mirror } from '../config/load.js';
import type { AccessLog } from '../http/access-log.js';

export const ALLOW = 'GET, HEAD';

export function downloadRoutes(app: FastifyInstance, runtime: Runtime, random: () => number, accessLog?: AccessLog): void {
  const views = new Views(runtime, random);
  const logged = accessLog === undefined ? {} : {
    onResponse: (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      accessLog.write(request, reply, clientOf(request, runtime.trusted).address, request.mgBytes);
      done();
    },
  };
  app.route({ method: ['GET', 'HEAD'], url: '/*', handler: download, ...logged });
  // Every other method Node parses is a 405, answered before any body is read (onRequest), and the
  // connection closed: a download takes no request body, so a slow one holds nothing open.
  for (const method of METHODS) if (method !== 'CONNECT' && !app.supportedMethods.includes(method)) app.addHttpMethod(method, { hasBody: true });
  const refuse = (_request: FastifyRequest, reply: FastifyReply) => reply.code(405).header('allow', ALLOW).header('connection', 'close')
    .type('text/plain').send('Method Not Allowed\n');
  app.route({ method: app.supportedMethods.filter((m) => m !== 'GET' && m !== 'HEAD'), url: '/*', onRequest: (request, reply) => void refuse(request, reply), handler: refuse });

  function download(request: FastifyRequest, reply: FastifyReply): FastifyReply | Promise<FastifyReply> {
    const target = normalizeRequestPath(request.url);
    if (!target.ok) return reply.code(400).type('text/plain').send(`Bad Request: ${target.reason}\n`);
    const view = viewOf(request);
    // A view of a path that is not a file (`x.iso.meta4?mirrorlist`, a directory) is answered as that path.
    const file = view === undefined ? undefined : runtime.catalog.lookup(target.path);
    if (view !== undefined && file !== undefined) return views.file(request, reply, file, view);
    return answer(request, reply, target.path, false);
  }

  function answer(request: FastifyRequest, reply: FastifyReply, path: string, restated: boolean): FastifyReply | Promise<FastifyReply> {
    const file = runtime.catalog.lookup(path);
    if (file === undefined) return views.notAFile(request, reply, path, (index) => answer(request, reply, index, false));
    const bytes = request.method === 'HEAD' ? 0 : expectedBytes(request.headers.range, file.size);
    if (file.size < runtime.config.smallFileBytes) return serveLocal(request, reply, file, bytes, restated);

    const client = clientOf(request, runtime.trusted);
    const input = selectionInput(runtime, client, file, avoidOf(request), random);
    // Metadata replaced within one second is dated later than its mtime (see Catalog.lastModifiedSeconds):
    // no mirror's copy carries that date, so only we serve it.
    if (input.volatile === true && runtime.catalog.lastModifiedMoved(file)) return serveLocal(request, reply, file, bytes, restated);
    const { chosen, tier } = chooseMirror(input);
    if (chosen !== undefined) return sendTo(request, reply, chosen, tier, client, file, bytes, input);
    if (mayWait(runtime, input)) return afterChecks(request, reply, file, client, input, bytes, restated);
    return noMirror(request, reply, file, bytes, input, restated);
  }

  function sendTo(
    request: FastifyRequest, reply: FastifyReply, mirror: Mirror, tier: string | undefined, client: ClientInfo, file: FileEntry, bytes: number, input: SelectionInput,
  ): FastifyReply {
    counted(request, mirror, file, client.address, bytes, input.nowMs);
    const path = encodePath(file.path);
    const location = mirrorBase(mirror, client.https) + path;
    const { alternates } = runtime.config.clients;
    if (alternates > 0) {
      // The mirrors selection would pick next for this client (RFC 6249), pri 2, 3, …: Location is the
      // first. Ranked on what is known: naming alternates asks no mirror for a check.
      const links: string[] = [];
      for (const next of rankMirrors(input, alternates, mirror, runtime.states.passive)) {
        links.push(duplicateLink(mirrorBase(next.mirror, client.https) + path, next.mirror, links.length + 2));
      }
      links.push(metalinkLink(path));
      reply.header('link', links);
    }
    digests(reply, file);
    return redirect(reply, location, mirror.name, tier ?? 'world');
  }

  /** An answered download: counted for its target, and (a GET) for its file and the client's country; its bytes kept for the access log. */
  function counted(request: FastifyRequest, target: Mirror | typeof LOCAL | typeof FALLBACK, file: FileEntry, address: string, bytes: number, nowMs = runtime.now): void {
    runtime.count(target, bytes, nowMs);
    request.mgBytes = bytes;
    if (request.method === 'GET') runtime.countDownload(file.path, address, bytes, nowMs);
  }

  function digests(reply: FastifyReply, file: FileEntry): void {
    if (!runtime.config.clients.digests) return;
    const digest = runtime.catalog.digestOf(file);
    if (digest !== undefined) setDigestHeaders(reply, digest);
  }

  /** No mirror is known to hold this copy yet: wait briefly for checks of the best candidates. */
  async function afterChecks(
    request: FastifyRequest, reply: FastifyReply, file: FileEntry, client: ClientInfo, input: SelectionInput, bytes: number, restated: boolean,
  ): Promise<FastifyReply> {
    await awaitVerifiedMirror(runtime, input);
    const now = { ...input, nowMs: runtime.now };
    const { chosen, tier } = chooseMirror(now);
    if (chosen !== undefined) return sendTo(request, reply, chosen, tier, client, file, bytes, now);
    return noMirror(request, reply, file, bytes, input, restated);
  }

  function noMirror(request: FastifyRequest, reply: FastifyReply, file: FileEntry, bytes: number, input: SelectionInput, restated: boolean): FastifyReply | Promise<FastifyReply> {
    // Volatile metadata goes only to a just-verified mirror, else it comes from the master copy; and an
    // https request is never sent on to plain http.
    const fallback = runtime.config.fallbackUrl;
    if (fallback !== undefined && input.volatile !== true && !(input.https && fallback.startsWith('http:'))) {
      counted(request, FALLBACK, file, clientOf(request, runtime.trusted).address, bytes);
      digests(reply, file);
      return redirect(reply, fallback + encodePath(file.path), FALLBACK, 'fallback');
    }
    return serveLocal(request, reply, file, bytes, restated);
  }

  /**
   * Serves our copy, after checking that it is the copy the catalog names: if the file changed on disk
   * and the watcher has not told us yet, the catalog is updated first and the request answered afresh.
   */
  async function serveLocal(request: FastifyRequest, reply: FastifyReply, file: FileEntry, bytes: number, restated: boolean): Promise<FastifyReply> {
    if (!restated) {
      const onDisk = await statOf(join(runtime.config.repository, file.path));
      if (onDisk === undefined || !sameCopy(onDisk, file)) {
        runtime.applyChanges([{ path: file.path, stat: onDisk }]);
        return answer(request, reply, file.path, true);
      }
    }
    reply.header('x-mirrorgate-mirror', LOCAL);
    digests(reply, file);
    if (notModified(request, reply, file)) {
      runtime.count(LOCAL, 0);
      return reply.code(304).send();
    }
    counted(request, LOCAL, file, clientOf(request, runtime.trusted).address, bytes);
    return reply.sendFile(`/${file.path}`, runtime.config.repository, { dotfiles: 'allow', maxAge: 0, lastModified: false, etag: false });
  }

  /**
   * Validators of our copy, and the 304 they allow. Ours, not the static server's: its ETag (size and
   * mtime) and Last-Modified (the mtime's second) can be equal for two copies, and a wrong 304 leaves a
   * client with old bytes. The ETag names the copy (size, mtime, ctime); the date is moved later when an
   * earlier copy already had it.
   */
  function notModified(request: FastifyRequest, reply: FastifyReply, file: FileEntry): boolean {
    const etag = `"${file.size.toString(16)}-${file.mtimeMs.toString(16)}-${file.ctimeMs.toString(16)}"`;
    const seconds = runtime.catalog.lastModifiedSeconds(file);
    reply.header('etag', etag).header('last-modified', new Date(seconds * 1000).toUTCString());
    const noneMatch = request.headers['if-none-match'];
    if (noneMatch !== undefined) return noneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag || tag.trim() === '*');
    const since = request.headers['if-modified-since'];
    if (since === undefined || request.headers.range !== undefined) return false;
    const date = Date.parse(since);
    return Number.isFinite(date) && seconds * 1000 <= date;
  }
}

async function statOf(file: string): Promise<FileStat | undefined> {
  try {
    const s = await stat(file);
    return s.isFile() ? { size: s.size, mtimeMs: Math.trunc(s.mtimeMs), ctimeMs: Math.trunc(s.ctimeMs) } : undefined;
  } catch {
    return undefined;
  }
}

function redirect(reply: FastifyReply, location: string, mirror: string, tier: string): FastifyReply {
  // A redirect depends on who asks and on the mirrors' state: no shared cache may keep it.
  return reply.code(302)
    .header('location', location)
    .header('cache-control', 'private, no-store')
    .header('x-mirrorgate-mirror', mirror)
    .header('x-mirrorgate-tier', tier)
    .send();
}

/** `?avoid=a,b` or `?avoid=a&avoid=b`: mirrors the client wants skipped. */
export function avoidOf(request: FastifyRequest): ReadonlySet<string> | undefined {
  return parseAvoid((request.query as Record<string, unknown>).avoid);
}

export function parseAvoid(value: unknown): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  const list = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
  return new Set(list.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== ''));
}
