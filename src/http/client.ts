// The client of a Fastify request, resolved once and remembered on the request: the rate limiter and
// the download route both need it. The socket peer (normalised, trusted or not) is remembered on the
// socket, since every request of a keep-alive connection has the same one.
import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import type { TrustList } from './trust-list.js';
import { peerOf, resolveBehindPeer, type ClientInfo, type Peer } from './client-address.js';

const PEER = Symbol('mirrorgate.peer');

type Socket = Partial<TLSSocket> & { [PEER]?: Peer & { readonly list: TrustList } };

declare module 'fastify' {
  interface FastifyRequest {
    mgClient: ClientInfo | null;
    /** The bytes this answer hands off (counted, and written to the access log). */
    mgBytes: number;
  }
}

export function clientOf(request: FastifyRequest, trusted: TrustList): ClientInfo {
  if (request.mgClient === null) {
    const socket = request.raw.socket as Socket;
    let peer = socket[PEER];
    // A reload brings a new trust list: the answer is asked again.
    if (peer === undefined || peer.list !== trusted) peer = socket[PEER] = { ...peerOf(socket.remoteAddress, trusted), list: trusted };
    request.mgClient = resolveBehindPeer(peer, request.headers, trusted, socket.encrypted === true);
  }
  return request.mgClient;
}
