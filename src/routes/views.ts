// Everything the download route answers besides a file: a file's checksum (`?sha256`, `.sha256`), its
// Metalink (`?meta4`, `.meta4`, `Accept: application/metalink4+xml`), its mirror list (`?mirrorlist`,
// `.mirrorlist`, as JSON with `=json` or `Accept: application/json`), and directories (their
// index.html, or a generated listing). None of it is on the redirect path: the route asks viewOf() and
// goes on with the file when it says nothing.
import { posix } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { encodePath } from '../catalog/request-path.js';
import type { FileEntry } from '../catalog/catalog.js';
import { clientOf } from '../http/client.js';
import { selectionInput } from '../runtime/selection-input.js';
import { rankMirrors } from '../selection/select.js';
import { metalinkDocument, METALINK_TYPE, sha256sumLine } from '../clients/metalink.js';
import { mirrorList, mirrorListPage } from '../clients/mirror-list.js';
import { listingPage, parseSort, sortEntries, type ListingEntry } from '../clients/listing.js';
import { VERSION } from '../paths.js';
import { mirrorBase } from '../config/load.js';
import type { Runtime } from '../runtime/runtime.js';

export type View = 'sha256' | 'meta4' | 'mirrorlist' | 'mirrorlist-json';

/** How long a client asking for a checksum not computed yet should wait. */
const HASH_RETRY_SECONDS = 30;
const SUFFIXES: readonly [string, View][] = [['.meta4', 'meta4'], ['.sha256', 'sha256'], ['.mirrorlist', 'mirrorlist']];
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/** Does the request ask for something other than the file itself? Cheap: the redirect path asks it. */
export function viewOf(request: FastifyRequest): View | undefined {
  if (request.url.includes('?')) {
    const query = request.query as Record<string, unknown>;
    if (query.sha256 !== undefined) return 'sha256';
    if (query.meta4 !== undefined || query.metalink !== undefined) return 'meta4';
    if (query.mirrorlist !== undefined) return query.mirrorlist === 'json' || accepts(request, 'application/json') ? 'mirrorlist-json' : 'mirrorlist';
  }
  const accept = request.headers.accept;
  if (accept !== undefined && accept.includes(METALINK_TYPE) && prefers(accept, METALINK_TYPE)) return 'meta4';
  return undefined;
}

/** The q value of each media range in an Accept header. */
function qualities(accept: string): Map<string, number> {
  const result = new Map<string, number>();
  for (const item of accept.split(',')) {
    const [media, ...params] = item.split(';').map((p) => p.trim().toLowerCase());
    if (media === undefined || media === '') continue;
    const q = params.find((p) => p.startsWith('q='));
    const value = q === undefined ? 1 : Number(q.slice(2));
    result.set(media, Math.max(result.get(media) ?? 0, Number.isFinite(value) ? value : 0));
  }
  return result;
}

/** True when the Accept header names this media type (with q > 0). */
export function accepts(request: FastifyRequest, type: string): boolean {
  const accept = request.headers.accept;
  return accept !== undefined && (qualities(accept).get(type) ?? 0) > 0;
}

/**
 * True when the client prefers `type` to the file itself: it names the type with a q above any wildcard.
 * aria2 sends `*\/*,application/metalink4+xml` (no preference): it gets the 302, whose Link and Digest
 * headers (Metalink/HTTP) tell it the same; `Accept: application/metalink4+xml` alone gets the document.
 */
export function prefers(accept: string, type: string): boolean {
  const q = qualities(accept);
  const wanted = q.get(type) ?? 0;
  return wanted > 0 && wanted > Math.max(q.get('*/*') ?? 0, q.get(`${type.split('/')[0]}/*`) ?? 0);
}

export class Views {
  constructor(private readonly runtime: Runtime, private readonly random: () => number) {}

  /** A view of a catalog file. */
  file(request: FastifyRequest, reply: FastifyReply, file: FileEntry, view: View): FastifyReply {
    reply.header('cache-control', 'private, no-store').header('vary', 'accept');
    if (view === 'sha256') return this.checksum(reply, file);
    if (view === 'meta4') return this.metalink(request, reply, file);
    return this.mirrors(request, reply, file, view === 'mirrorlist-json');
  }

  /**
   * A path that is not a catalog file: a view named by its suffix (`x.iso.meta4`), a directory (its
   * index.html, or a listing), or 404. `answerFile` answers a catalog path as the download route does.
   */
  notAFile(request: FastifyRequest, reply: FastifyReply, path: string, answerFile: (path: string) => FastifyReply | Promise<FastifyReply>): FastifyReply | Promise<FastifyReply> {
    for (const [suffix, view] of SUFFIXES) {
      const file = path.endsWith(suffix) ? this.runtime.catalog.lookup(path.slice(0, -suffix.length)) : undefined;
      if (file !== undefined) return this.file(request, reply, file, view === 'mirrorlist' && accepts(request, 'application/json') ? 'mirrorlist-json' : view);
    }
    if (!this.runtime.catalog.isDirectory(path)) return notFound(reply);
    const rawPath = request.url.split('?', 1)[0] as string;
    if (!rawPath.endsWith('/')) {
      // As web servers do: the slash form, so that relative links in the page resolve inside it.
      const query = request.url.slice(rawPath.length);
      return reply.code(301).header('location', `/${encodePath(path)}/${query}`).type('text/plain').send('Moved Permanently\n');
    }
    const index = path === '' ? 'index.html' : `${path}/index.html`;
    if (this.runtime.catalog.lookup(index) !== undefined) return answerFile(index);
    if (!this.runtime.config.clients.listings) return notFound(reply);
    return this.listing(request, reply, path);
  }

  private checksum(reply: FastifyReply, file: FileEntry): FastifyReply {
    const sha256 = this.runtime.catalog.sha256Of(file);
    if (sha256 === undefined) {
      if (this.runtime.config.catalog.hashConcurrency === 0) return reply.code(404).type('text/plain').send('No checksum: hashing is turned off on this server\n');
      return reply.code(503).header('retry-after', String(HASH_RETRY_SECONDS)).type('text/plain')
        .send(`The sha256 of /${file.path} is being computed; try again in ${HASH_RETRY_SECONDS} seconds\n`);
    }
    return reply.type('text/plain; charset=utf-8').send(sha256sumLine(sha256, posix.basename(file.path)));
  }

  private metalink(request: FastifyRequest, reply: FastifyReply, file: FileEntry): FastifyReply {
    const { runtime } = this;
    const client = clientOf(request, runtime.trusted);
    const path = encodePath(file.path);
    const urls: { url: string; location: string | undefined }[] = [];
    if (file.size >= runtime.config.smallFileBytes) {
      const input = selectionInput(runtime, client, file, undefined, this.random);
      for (const { mirror } of rankMirrors(input, runtime.config.clients.metalinkMirrors)) {
        urls.push({ url: mirrorBase(mirror, client.https) + path, location: mirror.country });
      }
    }
    if (urls.length === 0) {
      // No mirror holds this copy (or it is served only from here): the repository's own URL.
      const own = this.ownUrl(request, client.https);
      if (own === undefined) return reply.code(400).type('text/plain').send('Bad Request: no usable Host header\n');
      urls.push({ url: own + path, location: undefined });
    }
    const document = metalinkDocument({
      name: posix.basename(file.path), size: file.size, mtimeMs: file.mtimeMs, sha256: runtime.catalog.sha256Of(file),
      pieces: runtime.catalog.piecesOf(file), urls,
    }, `mirrorgate/${VERSION}`);
    return reply.type(METALINK_TYPE)
      .header('content-disposition', `attachment; filename="${posix.basename(file.path).replace(/[^\x20-\x7e]|["\\]/g, '_')}.meta4"`)
      .send(document);
  }

  private mirrors(request: FastifyRequest, reply: FastifyReply, file: FileEntry, json: boolean): FastifyReply {
    const { runtime } = this;
    const client = clientOf(request, runtime.trusted);
    const input = selectionInput(runtime, client, file, undefined, this.random);
    const location = runtime.locality.locate(client.address);
    const list = mirrorList(input, location, file, runtime.catalog.sha256Of(file), runtime.config.clients.metalinkMirrors);
    // A file only ever served from here has no mirrors to list.
    const shown = file.size < runtime.config.smallFileBytes ? { ...list, mirrors: [] } : list;
    if (json) return reply.type('application/json; charset=utf-8').send(shown);
    return reply.type('text/html; charset=utf-8').send(mirrorListPage(shown));
  }

  private listing(request: FastifyRequest, reply: FastifyReply, path: string): FastifyReply {
    const { catalog } = this.runtime;
    const prefix = path === '' ? '' : `${path}/`;
    const entries: ListingEntry[] = [];
    for (const { name, file } of catalog.children(path)) {
      if (name.startsWith('.')) continue;
      entries.push({ name, directory: file === undefined, size: file?.size ?? null, modified: file === undefined ? null : new Date(file.mtimeMs).toISOString() });
    }
    const query = request.query as Record<string, unknown>;
    const sort = parseSort(query);
    const listing = { path: `/${prefix}`, entries: sortEntries(entries, sort.key, sort.descending) };
    reply.header('cache-control', 'no-cache').header('vary', 'accept');
    if (query.json !== undefined || accepts(request, 'application/json')) return reply.type('application/json; charset=utf-8').send(listing);
    return reply.type('text/html; charset=utf-8').send(listingPage(listing, sort));
  }

  /** This server's base URL: clients.publicUrl, else from the request (a Host that is a plain host name). */
  private ownUrl(request: FastifyRequest, https: boolean): string | undefined {
    const configured = this.runtime.config.clients.publicUrl;
    if (configured !== undefined) return configured;
    const host = request.headers.host;
    if (host === undefined || !HOST.test(host)) return undefined;
    return `${https ? 'https' : 'http'}://${host}/`;
  }
}

function notFound(reply: FastifyReply): FastifyReply {
  return reply.code(404).type('text/plain').send('Not Found\n');
}

