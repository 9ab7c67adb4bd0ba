// The request path: normalise → look up → small file? serve it : select a mirror → count → 302.
// Reads only in-memory state; the counters are flushed to SQLite by a timer elsewhere.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { normalizeRequestPath, encodePath } from '../catalog/request-path.js';
import type { FileEntry } from '../catalog/catalog.js';
import { chooseMirror } from '../selection/select.js';
import { clientOf } from '../http/client.js';
import { selectionInput } from '../runtime/selection-input.js';
import { FALLBACK, LOCAL } from '../counters/counters.js';
import { expectedBytes } from '../http/range.js';
import type { Runtime } from '../runtime/runtime.js';

export const ALLOW = 'GET, HEAD';
const OTHER_METHODS = ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

export function downloadRoutes(app: FastifyInstance, runtime: Runtime, random: () => number): void {
  app.route({ method: ['GET', 'HEAD'], url: '/*', handler: download });
  app.route({
    method: [...OTHER_METHODS],
    url: '/*',
    handler: (_request, reply) => reply.code(405).header('allow', ALLOW).type('text/plain').send('Method Not Allowed\n'),
  });

  function download(request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const target = normalizeRequestPath(request.url);
    if (!target.ok) return reply.code(400).type('text/plain').send(`Bad Request: ${target.reason}\n`);
    const file = runtime.catalog.lookup(target.path);
    if (file === undefined) return reply.code(404).type('text/plain').send('Not Found\n');
    const config = runtime.config;
    const bytes = request.method === 'HEAD' ? 0 : expectedBytes(request.headers.range, file.size);
    if (file.size < config.smallFileBytes) return serveLocal(reply, file, bytes);

    const client = clientOf(request, runtime.trusted);
    const input = selectionInput(runtime, client, file, avoidOf(request), random);
    const { chosen, tier } = chooseMirror(input);
    if (chosen !== undefined) {
      runtime.count(chosen, bytes, input.nowMs);
      const base = client.https ? (chosen.httpsUrl as string) : chosen.url;
      return redirect(reply, base + encodePath(file.path), chosen.name, tier ?? 'world');
    }
    // Volatile metadata goes only to a just-verified mirror, else it comes from the master copy.
    if (config.fallbackUrl !== undefined && input.volatile !== true) {
      runtime.count(FALLBACK, bytes);
      return redirect(reply, config.fallbackUrl + encodePath(file.path), FALLBACK, 'fallback');
    }
    return serveLocal(reply, file, bytes);
  }

  function serveLocal(reply: FastifyReply, file: FileEntry, bytes: number): FastifyReply {
    runtime.count(LOCAL, bytes);
    reply.header('x-mirrorgate-mirror', LOCAL);
    return reply.sendFile(`/${file.path}`, runtime.config.repository, { dotfiles: 'allow', maxAge: 0 });
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
