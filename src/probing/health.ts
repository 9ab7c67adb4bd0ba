// PURE: a mirror's health as a small state machine fed by probe outcomes. Down after `failuresToDown`
// consecutive failures (a refused connection at once: nothing is listening), up again after
// `successesToUp` consecutive successes, so one lost probe never flaps a mirror and a repaired one
// always comes back. Every state carries the reason a person needs ("HTTP 503", "timeout after 3000 ms").
import type { HeadResult } from './http-client.js';

export type HealthState = 'unknown' | 'up' | 'down';

export interface Health {
  readonly state: HealthState;
  readonly reason: string;
  /** ms epoch of the last change of state. */
  readonly since: number;
  readonly failures: number;
  readonly successes: number;
  readonly checkedAt: number;
  readonly latencyMs: number | undefined;
}

export type ProbeOutcome =
  | { readonly ok: true; readonly latencyMs: number }
  | { readonly ok: false; readonly reason: string; readonly immediate: boolean; readonly latencyMs?: number };

export interface HealthThresholds {
  readonly failuresToDown: number;
  readonly successesToUp: number;
}

export function initialHealth(now: number): Health {
  return { state: 'unknown', reason: 'not probed yet', since: now, failures: 0, successes: 0, checkedAt: 0, latencyMs: undefined };
}

/** A HEAD of the probe file: the status must be 200 and the size the catalog's. */
export function judgeHealthProbe(result: HeadResult, expectedSize: number): ProbeOutcome {
  if (!result.ok) return { ok: false, reason: result.message, immediate: result.kind === 'refused', latencyMs: result.latencyMs };
  if (result.status >= 300 && result.status < 400) {
    return { ok: false, reason: `HTTP ${result.status} redirect to ${result.location ?? '?'} (configure the final URL)`, immediate: false };
  }
  if (result.status !== 200) return { ok: false, reason: `HTTP ${result.status}`, immediate: false };
  if (result.contentLength !== undefined && result.contentLength !== expectedSize) {
    return { ok: false, reason: `size ${result.contentLength} != ${expectedSize}`, immediate: false };
  }
  return { ok: true, latencyMs: result.latencyMs };
}

export function nextHealth(h: Health, outcome: ProbeOutcome, t: HealthThresholds, now: number): Health {
  const latencyMs = outcome.latencyMs ?? h.latencyMs;
  if (outcome.ok) {
    const successes = h.successes + 1;
    const up = h.state !== 'down' || successes >= t.successesToUp;
    const state = up ? 'up' : 'down';
    const reason = up ? 'ok' : `recovering: ${successes} of ${t.successesToUp} probes ok`;
    return { state, reason, since: state === h.state ? h.since : now, failures: 0, successes, checkedAt: now, latencyMs };
  }
  const failures = h.failures + 1;
  const down = h.state === 'down' || outcome.immediate || failures >= t.failuresToDown;
  const state = down ? 'down' : h.state;
  const reason = down ? outcome.reason : `${outcome.reason} (${failures} of ${t.failuresToDown} failures)`;
  return { state, reason, since: state === h.state ? h.since : now, failures, successes: 0, checkedAt: now, latencyMs };
}

/**
 * When to probe next: the interval with ±10% jitter so probes do not march in step; a mirror that is
 * down and failing backs off exponentially up to maxBackoffMs, one that is recovering is asked again soon.
 */
export function nextProbeDelay(h: Health, intervalMs: number, maxBackoffMs: number, random: () => number): number {
  const jitter = 0.9 + 0.2 * random();
  if (h.state !== 'down' || h.successes > 0) return intervalMs * jitter;
  const doublings = Math.min(10, Math.max(0, h.failures - 1));
  return Math.min(maxBackoffMs, intervalMs * 2 ** doublings) * jitter;
}
