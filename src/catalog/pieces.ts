// Piece hashes for Metalink's <pieces> (RFC 5854 §4.2.9): the sha-256 of each fixed-length piece, so a
// client such as aria2 can check each piece as it arrives and fetch a bad one again from another mirror.
import { createHash, type Hash } from 'node:crypto';
import { Writable } from 'node:stream';

const MIN_PIECE = 256 * 1024;
/** About this many pieces at most: a 4 GiB file gets 4 MiB pieces, a 64 KiB Metalink list of hashes. */
const MAX_PIECES = 1024;

/** The piece length for a file of `size` bytes: a power of two, at least 256 KiB. */
export function pieceBytesFor(size: number): number {
  let length = MIN_PIECE;
  while (length * MAX_PIECES < size) length *= 2;
  return length;
}

/** A stream sink that hashes the whole file and each piece in one pass. */
export class PieceHasher extends Writable {
  readonly whole = createHash('sha256');
  private piece: Hash = createHash('sha256');
  private inPiece = 0;
  private readonly done: Buffer[] = [];

  constructor(readonly pieceBytes: number) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.whole.update(chunk);
    let at = 0;
    while (at < chunk.length) {
      const take = Math.min(this.pieceBytes - this.inPiece, chunk.length - at);
      this.piece.update(chunk.subarray(at, at + take));
      this.inPiece += take;
      at += take;
      if (this.inPiece === this.pieceBytes) {
        this.done.push(this.piece.digest());
        this.piece = createHash('sha256');
        this.inPiece = 0;
      }
    }
    callback();
  }

  /** The whole file's sha256 (hex) and the piece hashes, 32 bytes each; call once, after the stream ended. */
  result(): { sha256: string; pieces: Buffer } {
    if (this.inPiece > 0) this.done.push(this.piece.digest());
    return { sha256: this.whole.digest('hex'), pieces: Buffer.concat(this.done) };
  }
}
