// IP address text in one spelling, and the key a client is counted by. A proxy may write an IPv6
// address in any of its spellings ("2001:DB8:0::1", "2001:db8::0:1"); each must be the same client.
// IPv6 clients are counted per network (a /64 by default): one host usually holds a whole /64, so
// per-address budgets would give it 2^64 of them.
import { isIP } from 'node:net';

/**
 * One spelling per address: IPv4 as is, IPv4-mapped IPv6 (any spelling) as IPv4, other IPv6 in RFC 5952
 * form; anything that is not an IP address → ''.
 */
export function normalizeIp(text: string): string {
  const version = isIP(text);
  if (version === 4) return text;
  if (version === 0) return '';
  const g = ipv6Groups(text);
  if (g === undefined) return '';
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    const [hi = 0, lo = 0] = [g[6], g[7]];
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return formatIpv6(g);
}

/** RFC 5952 text of an IPv6 address (lower case, no leading zeros, the longest zero run as "::"). */
export function canonicalIpv6(text: string): string | undefined {
  const groups = ipv6Groups(text);
  return groups === undefined ? undefined : formatIpv6(groups);
}

/** IPv4 as is; IPv6 as the canonical text of its network of `prefix` bits, e.g. "2001:db8:1:2::/64". */
export function clientKey(address: string, prefix: number): string {
  if (address.indexOf(':') === -1) return address;
  const groups = ipv6Groups(address);
  if (groups === undefined) return address;
  if (prefix >= 128) return formatIpv6(groups);
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, prefix - i * 16));
    groups[i] = keep === 0 ? 0 : (groups[i] as number) & (0xffff << (16 - keep)) & 0xffff;
  }
  return `${formatIpv6(groups)}/${prefix}`;
}

/** The eight 16-bit groups of an IPv6 address (with "::" and a trailing dotted IPv4 expanded). */
export function ipv6Groups(text: string): number[] | undefined {
  if (isIP(text) !== 6) return undefined;
  let body = text;
  const dot = body.indexOf('.');
  if (dot !== -1) {
    // "::ffff:192.0.2.1" → "::ffff:c000:201"
    const colon = body.lastIndexOf(':');
    const [a = 0, b = 0, c = 0, d = 0] = body.slice(colon + 1).split('.').map(Number);
    body = `${body.slice(0, colon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const gap = body.indexOf('::');
  let groups: number[];
  if (gap === -1) {
    groups = parse(body);
  } else {
    const head = parse(body.slice(0, gap));
    const rest = parse(body.slice(gap + 2));
    groups = [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  }
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

export function formatIpv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j += 1;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
