// Bytes handed to each mirror over a sliding window of whole seconds: the load estimate behind
// utilisation. A ring of per-second buckets with a running sum, so adding and reading are O(1) amortised.

export class SlidingWindow {
  private readonly buckets: Float64Array;
  private sum = 0;
  private second = 0;

  constructor(readonly seconds: number) {
    this.buckets = new Float64Array(seconds);
  }

  add(bytes: number, nowMs: number): void {
    this.advance(Math.floor(nowMs / 1000));
    const slot = this.second % this.seconds;
    this.buckets[slot] = (this.buckets[slot] as number) + bytes;
    this.sum += bytes;
  }

  total(nowMs: number): number {
    this.advance(Math.floor(nowMs / 1000));
    return this.sum;
  }

  private advance(second: number): void {
    if (second <= this.second) return;
    const steps = Math.min(this.seconds, second - this.second);
    for (let i = 1; i <= steps; i++) {
      const slot = (this.second + i) % this.seconds;
      this.sum -= this.buckets[slot] as number;
      this.buckets[slot] = 0;
    }
    this.second = second;
    if (this.sum < 0.5) this.sum = 0; // float drift
  }
}
