// The optional access log (config accessLog.file): one tab-separated line per answered download,
//   time  client  method  path  status  target  tier  bytes
// (target: the mirror, _local or _fallback, or - when none; bytes: what the answer hands off). Lines are
// written asynchronously through pino's SonicBoom, which batches them while a write is in flight; the
// request never waits for the disk. SIGUSR1 reopens the file (logrotate's `postrotate`). A failing disk
// is logged (at most once a minute) and the file reopened after a pause; lines that cannot be kept in
// memory meanwhile (more than 16 MiB) are dropped and counted, never allowed to stall the server.
import { pino } from 'pino';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Log } from '../log.js';

type Stream = ReturnType<typeof pino.destination>;

const MAX_BUFFER = 16 * 1024 * 1024;
const RETRY_MS = 5000;

export class AccessLog {
  private stream: Stream | undefined;
  private file: string | undefined;
  private retry: NodeJS.Timeout | undefined;
  private loggedAt = -Infinity;
  private closed = false;
  /** Lines dropped because the disk could not keep up or failed. */
  dropped = 0;
  errors = 0;

  constructor(private readonly currentFile: () => string | undefined, private readonly log: Log) {}

  /** One line for an answered download. */
  write(request: FastifyRequest, reply: FastifyReply, client: string, bytes: number): void {
    const file = this.currentFile();
    if (file !== this.file) this.open(file); // a reload named another file
    const stream = this.stream;
    if (stream === undefined) return;
    const target = reply.getHeader('x-mirrorgate-mirror') ?? '-';
    const tier = reply.getHeader('x-mirrorgate-tier') ?? '-';
    const line = `${new Date().toISOString()}\t${client}\t${request.method}\t${clean(request.url)}\t${reply.statusCode}\t${String(target)}\t${String(tier)}\t${bytes}\n`;
    stream.write(line);
  }

  /** SIGUSR1: the file was rotated; lines go to a new file at the path from now on. */
  reopen(): void {
    if (this.stream === undefined) return;
    try {
      this.stream.reopen();
    } catch (err) {
      this.failed(err as Error);
    }
  }

  /** Writes what is buffered and closes the file. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const stream = this.stream;
    this.stream = undefined;
    this.file = undefined;
    if (stream === undefined) return;
    await new Promise<void>((resolve) => {
      stream.once('close', () => resolve());
      stream.once('error', () => resolve());
      stream.end();
    });
  }

  private open(file: string | undefined): void {
    if (this.closed) return;
    const previous = this.stream;
    this.stream = undefined;
    this.file = file;
    if (previous !== undefined) previous.end();
    if (file === undefined) return;
    try {
      const stream = pino.destination({ dest: file, sync: false, mkdir: true, minLength: 0, maxLength: MAX_BUFFER });
      stream.on('error', (err: Error) => this.failed(err));
      stream.on('drop', () => { this.dropped += 1; });
      this.stream = stream;
    } catch (err) {
      this.failed(err as Error);
    }
  }

  private failed(err: Error): void {
    if (this.closed) return; // an error from the stream being closed: nothing to retry
    this.errors += 1;
    const now = Date.now();
    if (now - this.loggedAt >= 60_000) {
      this.loggedAt = now;
      this.log.error({ file: this.file, err: err.message, errors: this.errors, dropped: this.dropped },
        `cannot write the access log; trying again in ${RETRY_MS / 1000} s`);
    }
    // The broken stream is let go of with its descriptor, so a disk failing for days leaks nothing.
    const broken = this.stream;
    this.stream = undefined;
    try {
      broken?.destroy();
    } catch {
      // already closed
    }
    this.retry ??= setTimeout(() => {
      this.retry = undefined;
      this.open(this.file);
    }, RETRY_MS).unref();
  }
}

/** Control characters and spaces percent-encoded: a line is one line, its fields split on tabs. */
function clean(url: string): string {
  return /[\x00-\x20\x7f]/.test(url) ? url.replace(/[\x00-\x20\x7f]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`) : url;
}
