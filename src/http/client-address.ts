// Who is asking. The socket peer, unless the peer is a trusted proxy: then the right-most address in
// Forwarded (RFC 7239) or X-Forwarded-For that is not itself a trusted proxy. Left-most is what a client
// can forge, which is Mirrorbits' mistake (shared/PEERS.md). Never throws: garbage ends the walk.
import { isIP } from 'node:net';
import type { TrustList } from './trust-list.js';
import { normalizeIp } from './ip.js';

export { normalizeIp };

export interface ClientInfo {
  /** Normalised IP (IPv4-mapped IPv6 unwrapped to IPv4); '' when the socket has no address. */
  readonly address: string;
  readonly family: 4 | 6 | 0;
  /** The request reached us, or the trusted proxy in front of us, over https. */
  readonly https: boolean;
}

export interface ForwardingHeaders {
  readonly forwarded?: string | string[] | undefined;
  readonly 'x-forwarded-for'?: string | string[] | undefined;
  readonly 'x-forwarded-proto'?: string | string[] | undefined;
}

/** More hops than any sane proxy chain; the walk stops there. */
const MAX_HOPS = 16;

export function resolveClient(peer: string | undefined, headers: ForwardingHeaders, trusted: TrustList, encrypted: boolean): ClientInfo {
  return resolveBehindPeer(peerOf(peer, trusted), headers, trusted, encrypted);
}

/** The socket peer, normalised, and whether it is one of our proxies: the same for a whole connection. */
export interface Peer {
  readonly address: string;
  readonly trusted: boolean;
}

export function peerOf(peer: string | undefined, trusted: TrustList): Peer {
  const address = normalizeIp(peer ?? '');
  return { address, trusted: address !== '' && trusted.has(address) };
}

/** resolveClient with the peer already known (a keep-alive connection's requests share it). */
export function resolveBehindPeer(peer: Peer, headers: ForwardingHeaders, trusted: TrustList, encrypted: boolean): ClientInfo {
  let address = peer.address;
  let https = encrypted;
  if (!peer.trusted) return info(address, https);
  const xff = headers['x-forwarded-for'];
  // Hot path: one proxy hop that wrote one plain IPv4 client address.
  if (headers.forwarded === undefined && headers['x-forwarded-proto'] === undefined && typeof xff === 'string' && isPlainIpv4(xff)) {
    return trusted.has(xff) ? info(xff, https) : { address: xff, family: 4, https };
  }
  const proto = lastValue(headers['x-forwarded-proto'])?.trim().toLowerCase();
  const forwarded = headerText(headers.forwarded);
  const hops = forwarded !== undefined ? forwardedFor(forwarded) : headerText(headers['x-forwarded-for'])?.split(',') ?? [];
  if (forwarded !== undefined) {
    const p = forwardedProto(forwarded);
    if (p !== undefined) https = p === 'https';
  } else if (proto === 'https' || proto === 'http') {
    https = proto === 'https';
  }
  for (let i = hops.length - 1, n = 0; i >= 0 && n < MAX_HOPS; i--, n++) {
    const hop = normalizeIp(stripPort((hops[i] as string).trim()));
    if (hop === '') break;
    address = hop;
    if (!trusted.has(hop)) break;
  }
  return info(address, https);
}

/** Four dot-separated decimal octets, nothing else (no port, no spaces, no list). */
function isPlainIpv4(text: string): boolean {
  if (text.length < 7 || text.length > 15) return false;
  let dots = 0;
  let digits = 0;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0) return false;
      dots += 1;
      digits = 0;
      value = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return false; // no leading zeros
      value = value * 10 + (c - 48);
      digits += 1;
      if (value > 255) return false;
    } else return false;
  }
  return dots === 3 && digits > 0;
}

function info(address: string, https: boolean): ClientInfo {
  const family = isIP(address);
  return { address, family: family === 4 || family === 6 ? family : 0, https };
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

function lastValue(value: string | string[] | undefined): string | undefined {
  const text = headerText(value);
  return text?.split(',').at(-1);
}

/** `for=` values of a Forwarded header, in order; a missing or obfuscated one yields ''. */
function forwardedFor(header: string): string[] {
  return header.split(',').map((element) => {
    const pair = element.split(';').map((p) => p.trim()).find((p) => p.toLowerCase().startsWith('for='));
    return pair === undefined ? '' : pair.slice(4).replace(/^"|"$/g, '');
  });
}

/** The proto= of the last element: the one our trusted proxy wrote. */
function forwardedProto(header: string): string | undefined {
  const last = header.split(',').at(-1) ?? '';
  const pair = last.split(';').map((p) => p.trim()).find((p) => p.toLowerCase().startsWith('proto='));
  return pair?.slice(6).replace(/^"|"$/g, '').toLowerCase();
}

/** '[2001:db8::1]:4711' → '2001:db8::1'; '192.0.2.1:80' → '192.0.2.1'; a bare IPv6 is left alone. */
function stripPort(hop: string): string {
  if (hop.startsWith('[')) {
    const end = hop.indexOf(']');
    return end === -1 ? '' : hop.slice(1, end);
  }
  const colon = hop.indexOf(':');
  if (colon !== -1 && colon === hop.lastIndexOf(':')) return hop.slice(0, colon);
  return hop;
}
