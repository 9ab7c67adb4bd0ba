// Hashing for stickiness without storage: the same client network asking for the same path gets the same
// key, and each mirror mixes that key with its own seed (weighted rendezvous hashing). 32-bit FNV-1a for
// strings, finished with murmur3's fmix32 so every output bit depends on every input bit.

export function hashString(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

export function fmix32(input: number): number {
  let h = input >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A uniform draw in (0, 1) for (request key, mirror seed). */
export function unitFor(key: number, seed: number): number {
  return (fmix32((key ^ seed) >>> 0) + 0.5) / 4294967296;
}

/**
 * The client's network: /24 for IPv4, /56 for IPv6 (what one household or small site gets), so a
 * download resumed from another address of the same network continues on the same mirror.
 */
export function clientNetwork(ip: string): string {
  const dot = ip.lastIndexOf('.');
  if (dot !== -1 && !ip.includes(':')) return ip.slice(0, dot);
  if (!ip.includes(':')) return ip;
  const groups = expandIpv6(ip);
  if (groups === undefined) return ip;
  return `${groups[0]}:${groups[1]}:${groups[2]}:${(groups[3] ?? 0) & 0xff00}`;
}

function expandIpv6(ip: string): number[] | undefined {
  const [head = '', tail, extra] = ip.split('::');
  if (extra !== undefined) return undefined;
  const part = (s: string) => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  const left = part(head);
  const right = tail === undefined ? [] : part(tail);
  const fill = 8 - left.length - right.length;
  if (fill < 0 || (tail === undefined && fill !== 0)) return undefined;
  return [...left, ...new Array<number>(fill).fill(0), ...right];
}

/** The stickiness key of one request. */
export function requestKey(clientIp: string, path: string): number {
  return hashString(path, hashString(clientNetwork(clientIp)));
}
