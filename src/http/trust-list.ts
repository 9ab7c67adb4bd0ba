// trustProxy as a matcher: is this address one of our reverse proxies? Built once per config. Answers
// are remembered because BlockList.check builds a SocketAddress per call, a visible cost per request,
// and the same few addresses (the proxies, the clients of the moment) are asked about again and again.
import { BlockList, isIP } from 'node:net';
import { parseCidr } from '../config/load.js';

const MAX_REMEMBERED = 10_000;

export class TrustList {
  private readonly list = new BlockList();
  private answers = new Map<string, boolean>();

  constructor(cidrs: readonly string[]) {
    for (const text of cidrs) {
      const cidr = parseCidr(text);
      if (cidr) this.list.addSubnet(cidr.address, cidr.prefix, cidr.family);
    }
  }

  /** `address` must be a normalised IP (see normalizeIp). */
  has(address: string): boolean {
    let answer = this.answers.get(address);
    if (answer === undefined) {
      answer = this.list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
      if (this.answers.size >= MAX_REMEMBERED) this.answers = new Map();
      this.answers.set(address, answer);
    }
    return answer;
  }
}
