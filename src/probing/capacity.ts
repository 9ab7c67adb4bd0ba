// PURE: a mirror's effective capacity. The declared bandwidthMbps is the ceiling; throughput probes
// (a bounded byte range of a large file) and health-probe latency scale it down when the mirror slows
// against its own baseline. docs/selection.md gives the formula.

export interface CapacityEstimate {
  /** Best throughput seen, bytes/s, decaying slowly so a permanent change is learnt. */
  readonly baselineThroughput: number | undefined;
  /** Best latency seen (ms), rising slowly for the same reason. */
  readonly baselineLatencyMs: number | undefined;
  /** Smoothed slowdown factor in [0, 1]: 1 = as fast as the baseline. */
  readonly factor: number;
}

export const INITIAL_CAPACITY: CapacityEstimate = { baselineThroughput: undefined, baselineLatencyMs: undefined, factor: 1 };

const BASELINE_DECAY = 0.98;
const SMOOTHING = 0.5;
/** Throughput within 30% of the baseline, and latency within 50 ms of it, is noise, not a slowdown. */
const THROUGHPUT_SLACK = 0.7;
const LATENCY_SLACK_MS = 50;

export type ThroughputSample = { readonly ok: true; readonly bytesPerSecond: number; readonly ttfbMs: number } | { readonly ok: false };

export function nextCapacity(c: CapacityEstimate, sample: ThroughputSample): CapacityEstimate {
  if (!sample.ok) return { ...c, factor: c.factor * SMOOTHING };
  const baselineThroughput = Math.max(sample.bytesPerSecond, (c.baselineThroughput ?? 0) * BASELINE_DECAY);
  const baselineLatencyMs = Math.min(sample.ttfbMs, (c.baselineLatencyMs ?? Infinity) / BASELINE_DECAY);
  const throughputRatio = baselineThroughput > 0 ? Math.min(1, sample.bytesPerSecond / (baselineThroughput * THROUGHPUT_SLACK)) : 1;
  const latencyRatio = Math.min(1, (baselineLatencyMs + LATENCY_SLACK_MS) / Math.max(sample.ttfbMs, 1));
  const observed = throughputRatio * latencyRatio;
  return { baselineThroughput, baselineLatencyMs, factor: SMOOTHING * c.factor + (1 - SMOOTHING) * observed };
}

/**
 * effective = bandwidthMbps × max(floor, factor) / (1 + consecutive health failures): a mirror that
 * starts failing probes is given less before it is declared down.
 */
export function effectiveMbps(bandwidthMbps: number, c: CapacityEstimate, floor: number, healthFailures: number): number {
  return (bandwidthMbps * Math.max(floor, Math.min(1, c.factor))) / (1 + healthFailures);
}
