// Who may use the operator endpoints: clients in admin.allow (default: loopback), as resolved through
// trustProxy (so a public client behind our own nginx is not "loopback"), or anyone presenting the
// bearer token. The token comes from the environment or a file, never from mirrors.json, which is
// often world-readable and kept in version control.
import { timingSafeEqual, createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { clientOf } from './client.js';
import type { TrustList } from './trust-list.js';
import { errors } from '../errors.js';

export const TOKEN_ENV = 'MIRRORGATE_ADMIN_TOKEN';
export const TOKEN_FILE_ENV = 'MIRRORGATE_ADMIN_TOKEN_FILE';
const MIN_TOKEN_LENGTH = 16;
const MAX_TOKEN_FILE_BYTES = 4096;

/** The token from --admin-token-file, MIRRORGATE_ADMIN_TOKEN_FILE or MIRRORGATE_ADMIN_TOKEN; undefined = none. */
export async function readAdminToken(file: string | undefined, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const path = file ?? env[TOKEN_FILE_ENV];
  let token: string | undefined = env[TOKEN_ENV];
  let from = TOKEN_ENV;
  if (path !== undefined) {
    from = `--admin-token-file / ${TOKEN_FILE_ENV} (${path})`;
    let text: Buffer;
    try {
      text = await readFile(path);
    } catch (err) {
      throw new errors.MG_ERR_SETTINGS_INVALID(`${from}: cannot read it: ${(err as Error).message}`);
    }
    if (text.length > MAX_TOKEN_FILE_BYTES) throw new errors.MG_ERR_SETTINGS_INVALID(`${from}: more than ${MAX_TOKEN_FILE_BYTES} bytes`);
    token = text.toString('utf8');
  }
  if (token === undefined) return undefined;
  token = token.trim();
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new errors.MG_ERR_SETTINGS_INVALID(`${from}: the token must be at least ${MIN_TOKEN_LENGTH} characters with no spaces`);
  }
  return token;
}

export interface AdminAccess {
  readonly trusted: TrustList;
  readonly adminAllowed: TrustList;
}

/** True when this request may see operator data. */
export function isOperator(request: FastifyRequest, access: AdminAccess, token: string | undefined): boolean {
  const client = clientOf(request, access.trusted);
  if (client.address !== '' && access.adminAllowed.has(client.address)) return true;
  const header = request.headers.authorization;
  if (token === undefined || header === undefined || !/^Bearer /i.test(header)) return false;
  // Compared as digests: equal lengths for timingSafeEqual, and no early exit on the first wrong byte.
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(header.slice(7).trim()), digest(token));
}

/** An onRequest hook for operator-only routes: 401 with a token configured, 403 without. */
export function operatorsOnly(access: () => AdminAccess, token: string | undefined) {
  return (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    if (isOperator(request, access(), token)) return done();
    if (token !== undefined) {
      void reply.code(401).header('www-authenticate', 'Bearer realm="mirrorgate"')
        .send({ error: 'operator endpoint: present the bearer token, or ask from a network in admin.allow' });
      return;
    }
    void reply.code(403).send({ error: 'operator endpoint: only networks in admin.allow may ask' });
  };
}
