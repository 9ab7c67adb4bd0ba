// The client of a Fastify request, resolved once and remembered on the request: the rate limiter and
// the download route both need it.
import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import type { TrustList } from './trust-list.js';
import { resolveClient, type ClientInfo } from './client-address.js';

declare module 'fastify' {
  interface FastifyRequest {
    mgClient: ClientInfo | null;
  }
}

export function clientOf(request: FastifyRequest, trusted: TrustList): ClientInfo {
  if (request.mgClient === null) {
    const socket = request.raw.socket as Partial<TLSSocket>;
    request.mgClient = resolveClient(socket.remoteAddress, request.headers, trusted, socket.encrypted === true);
  }
  return request.mgClient;
}
