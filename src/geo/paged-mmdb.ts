// An MMDB (MaxMind DB format 2) reader that reads the file where it lies instead of into each process's
// memory: positional reads of 4 KiB pages, served by the OS page cache, which holds the file once for the
// whole host however many workers read it; each process keeps only the pages it used last (about 8 MB).
// The shipped city files are 134 MB: read whole, that was 134 MB in every worker. The format
// (https://maxmind.github.io/MaxMind-DB/) and the decoding follow mmdb-lib, the maxmind package's
// reader; test/geo/paged-mmdb.test.ts checks both answer the same for many thousands of addresses.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';

const PAGE = 4096;
/** Pages kept per reader: two generations of up to half this each. */
const PAGES_KEPT = 2048;
const METADATA_MARKER = Buffer.from('abcdef4d61784d696e642e636f6d', 'hex');
/** The metadata is in the last 128 KiB of the file. */
const METADATA_MAX = 128 * 1024;
const DATA_SEPARATOR = 16;

export interface MmdbMetadata {
  readonly ipVersion: number;
  readonly nodeCount: number;
  readonly recordSize: number;
  readonly databaseType: string;
}

/** The bytes of a file, read a page at a time and kept while used. */
class PagedBytes {
  private young = new Map<number, Buffer>();
  private old = new Map<number, Buffer>();
  /** The page read last: most reads are of the bytes next to the last. */
  private lastNumber = -1;
  private last: Buffer = Buffer.alloc(0);

  constructor(private readonly fd: number, readonly length: number) {}

  byte(offset: number): number {
    if (offset < 0 || offset >= this.length) throw new RangeError(`offset ${offset} is outside the file`);
    const n = Math.floor(offset / PAGE);
    if (n !== this.lastNumber) {
      this.last = this.page(n);
      this.lastNumber = n;
    }
    return this.last[offset - n * PAGE] as number;
  }

  /** `length` bytes from `offset` (a copy when they cross a page). */
  bytes(offset: number, length: number): Buffer {
    if (offset < 0 || offset + length > this.length) throw new RangeError(`bytes ${offset}+${length} are outside the file`);
    const first = Math.floor(offset / PAGE);
    if (first === Math.floor((offset + length - 1) / PAGE)) return this.page(first).subarray(offset % PAGE, offset % PAGE + length);
    const out = Buffer.allocUnsafe(length);
    for (let copied = 0; copied < length;) {
      const at = offset + copied;
      const page = this.page(Math.floor(at / PAGE));
      copied += page.copy(out, copied, at % PAGE, Math.min(PAGE, at % PAGE + length - copied));
    }
    return out;
  }

  uint(offset: number, size: number): number {
    let value = 0;
    for (let i = 0; i < size; i++) value = value * 256 + this.byte(offset + i);
    return value;
  }

  private page(n: number): Buffer {
    let page = this.young.get(n);
    if (page !== undefined) return page;
    page = this.old.get(n);
    if (page === undefined) {
      page = Buffer.allocUnsafe(Math.min(PAGE, this.length - n * PAGE));
      readSync(this.fd, page, 0, page.length, n * PAGE);
    }
    if (this.young.size >= PAGES_KEPT / 2) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(n, page);
    return page;
  }
}

export class PagedMmdbReader {
  readonly metadata: MmdbMetadata;
  private readonly bytes: PagedBytes;
  private readonly fd: number;
  private readonly nodeBytes: number;
  private readonly treeBytes: number;
  private readonly ipv4Start: number;

  /** Opens the file and reads its metadata; throws on a file that is not an MMDB. */
  constructor(path: string) {
    this.fd = openSync(path, 'r');
    try {
      this.bytes = new PagedBytes(this.fd, fstatSync(this.fd).size);
      const start = this.findMetadata();
      const meta = this.decode(start, start).value as Record<string, unknown> | null;
      if (meta === null || typeof meta !== 'object') throw new Error('cannot parse the metadata');
      const recordSize = Number(meta.record_size);
      if (![24, 28, 32].includes(recordSize)) throw new Error(`unsupported record size ${String(meta.record_size)}`);
      this.metadata = { ipVersion: Number(meta.ip_version), nodeCount: Number(meta.node_count), recordSize, databaseType: String(meta.database_type) };
      this.nodeBytes = recordSize / 4;
      this.treeBytes = this.metadata.nodeCount * this.nodeBytes;
      let node = 0;
      if (this.metadata.ipVersion === 6) for (let i = 0; i < 96 && node < this.metadata.nodeCount; i++) node = this.record(node, 0);
      this.ipv4Start = node;
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
  }

  /** The record for an address, or null when the file has none (or the address is not one). */
  get(ip: string): unknown {
    const address = parseAddress(ip);
    if (address === undefined) return null;
    const { nodeCount } = this.metadata;
    let node = address.length === 4 ? this.ipv4Start : 0;
    const bits = address.length * 8;
    for (let depth = 0; depth < bits && node < nodeCount; depth++) {
      node = this.record(node, ((address[depth >> 3] as number) >>> (7 ^ (depth & 7))) & 1);
    }
    if (node <= nodeCount) return null;
    const offset = node - nodeCount + this.treeBytes;
    return this.decode(offset, this.treeBytes + DATA_SEPARATOR).value;
  }

  close(): void {
    closeSync(this.fd);
  }

  /** One of a node's two records: 0 left, 1 right. */
  private record(node: number, side: number): number {
    const at = node * this.nodeBytes;
    const b = this.bytes;
    switch (this.metadata.recordSize) {
      case 24: return b.uint(at + side * 3, 3);
      case 28: return side === 0 ? ((b.byte(at + 3) & 0xf0) << 20) | b.uint(at, 3) : ((b.byte(at + 3) & 0x0f) << 24) | b.uint(at + 4, 3);
      default: return b.uint(at + side * 4, 4);
    }
  }

  private findMetadata(): number {
    const tail = this.bytes.bytes(Math.max(0, this.bytes.length - METADATA_MAX), Math.min(METADATA_MAX, this.bytes.length));
    const at = tail.lastIndexOf(METADATA_MARKER);
    if (at === -1) throw new Error('not an MMDB file: no metadata marker');
    return this.bytes.length - tail.length + at + METADATA_MARKER.length;
  }

  /** Decodes the data field at `offset`; pointers are relative to `base`. */
  private decode(offset: number, base: number): { value: unknown; offset: number } {
    const b = this.bytes;
    const control = b.byte(offset++);
    let type = control >> 5;
    if (type === 1) { // pointer: the value it points at, and the offset after the pointer itself
      const size = (control >> 3) & 3;
      const packed = size === 3 ? b.uint(offset, 4) : ((control & 7) * 2 ** (8 * (size + 1))) + b.uint(offset, size + 1);
      const target = base + [0, 2048, 526336, 0][size]! + packed;
      return { value: this.decode(target, base).value, offset: offset + size + 1 };
    }
    if (type === 0) {
      type = b.byte(offset++) + 7;
      if (type < 8) throw new Error(`invalid extended type at offset ${offset}`);
    }
    let size = control & 0x1f;
    if (size === 29) size = 29 + b.byte(offset++);
    else if (size === 30) { size = 285 + b.uint(offset, 2); offset += 2; }
    else if (size === 31) { size = 65821 + b.uint(offset, 3); offset += 3; }
    switch (type) {
      case 2: return { value: b.bytes(offset, size).toString('utf8'), offset: offset + size };
      case 3: return { value: b.bytes(offset, 8).readDoubleBE(0), offset: offset + 8 };
      case 4: return { value: Buffer.from(b.bytes(offset, size)), offset: offset + size };
      case 5: case 6: return { value: size === 0 ? 0 : b.uint(offset, size), offset: offset + size };
      case 7: {
        const map: Record<string, unknown> = {};
        for (let i = 0; i < size; i++) {
          const key = this.decode(offset, base);
          const value = this.decode(key.offset, base);
          map[String(key.value)] = value.value;
          offset = value.offset;
        }
        return { value: map, offset };
      }
      case 8: return { value: size === 0 ? 0 : size < 4 ? b.uint(offset, size) : b.bytes(offset, 4).readInt32BE(0), offset: offset + size };
      case 9: case 10: {
        let value = 0n;
        for (let i = 0; i < size; i++) value = (value << 8n) | BigInt(b.byte(offset + i));
        return { value, offset: offset + size };
      }
      case 11: {
        const list: unknown[] = [];
        for (let i = 0; i < size; i++) {
          const item = this.decode(offset, base);
          list.push(item.value);
          offset = item.offset;
        }
        return { value: list, offset };
      }
      case 14: return { value: size !== 0, offset };
      case 15: return { value: b.bytes(offset, 4).readFloatBE(0), offset: offset + 4 };
      default: throw new Error(`unknown data type ${type} at offset ${offset}`);
    }
  }
}

/** An address as its 4 or 16 bytes, or undefined. */
function parseAddress(ip: string): number[] | undefined {
  if (isIPv4(ip)) return ip.split('.').map(Number);
  if (!isIPv6(ip)) return undefined;
  let text = ip.split('%', 1)[0] as string;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [left = '', right] = text.split('::', 2);
  const head = left === '' ? [] : left.split(':');
  const tail = right === undefined || right === '' ? [] : right.split(':');
  const groups = right === undefined ? head : [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  const out: number[] = [];
  for (const group of groups) {
    const n = Number.parseInt(group, 16);
    out.push(n >> 8, n & 0xff);
  }
  return out.length === 16 ? out : undefined;
}
