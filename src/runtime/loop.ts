// A background loop: run, wait, run again. The next run is scheduled only after the previous finished,
// so slow work never piles up; the interval is re-read each time so a config reload can change it.
// Unref'd (it never keeps the process alive) and stopped by stop(), which waits for a run in progress.
export class Loop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly intervalMs: () => number,
    private readonly work: () => unknown,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): this {
    this.schedule();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    const ms = this.intervalMs();
    if (this.stopped || ms <= 0) return;
    this.timer = setTimeout(() => {
      this.running = Promise.resolve()
        .then(() => this.work())
        .then(() => undefined, this.onError)
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, ms);
    this.timer.unref();
  }
}
