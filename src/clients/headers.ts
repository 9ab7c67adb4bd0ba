// What a redirect (and a file served from the repository) tells a client besides Location: the next best
// mirrors as `Link: rel=duplicate` (RFC 6249, Metalink/HTTP), where the Metalink document is, and the
// file's sha-256 as Repr-Digest (RFC 9530) and Digest (RFC 3230, which aria2 reads). Everything per
// mirror is computed once per config; per request it is string concatenation.
import type { FastifyReply } from 'fastify';
import type { Mirror } from '../config/load.js';

/** `; geo=cc` per mirror (empty without a country); mirrors are frozen per config, so this cache is too. */
const geoOf = new WeakMap<Mirror, string>();

function geo(mirror: Mirror): string {
  let text = geoOf.get(mirror);
  if (text === undefined) {
    text = mirror.country === undefined ? '' : `; geo=${mirror.country.toLowerCase()}`;
    geoOf.set(mirror, text);
  }
  return text;
}

/** One `Link: <url>; rel=duplicate; pri=N; geo=cc` value. */
export function duplicateLink(url: string, mirror: Mirror, priority: number): string {
  return `<${url}>; rel=duplicate; pri=${priority}${geo(mirror)}`;
}

/** The Link value naming this file's Metalink document (a path on this server). */
export function metalinkLink(encodedPath: string): string {
  return `</${encodedPath}.meta4>; rel=describedby; type="application/metalink4+xml"`;
}

/** The two header values per digest, for the files asked for lately (the catalog hands out one string per copy). */
const digestValues = new Map<string, readonly [string, string]>();
const DIGEST_VALUES_KEPT = 65_536;

/** Repr-Digest and Digest for a sha-256 given as base64. */
export function setDigestHeaders(reply: FastifyReply, base64: string): void {
  let values = digestValues.get(base64);
  if (values === undefined) {
    if (digestValues.size >= DIGEST_VALUES_KEPT) digestValues.clear();
    values = [`sha-256=:${base64}:`, `SHA-256=${base64}`];
    digestValues.set(base64, values);
  }
  reply.header('repr-digest', values[0]).header('digest', values[1]);
}
