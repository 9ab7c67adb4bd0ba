// The first requests for a large file that no mirror is known to hold yet (new, or just replaced): rather
// than sending its bytes from the repository, the request waits a short while (freshness.firstRequestWaitMs)
// for content checks of the mirrors this client would get, best first. Every request for the same copy
// shares those checks, and at most freshness.urgentChecks run at once. Files that already have fresh
// evidence never come here: their redirect does no I/O and no waiting.
import type { Mirror } from '../config/load.js';
import type { Evidence, FileRef } from '../probing/freshness.js';
import { chooseMirror, type SelectionInput, type SelectionState } from '../selection/select.js';

export interface FirstRequestContext {
  readonly config: { readonly probe: { readonly enabled: boolean; readonly timeoutMs: number }; readonly freshness: { readonly firstRequestWaitMs: number; readonly firstRequestCandidates: number } };
  readonly states: { readonly hopeful: SelectionState };
  urgentCheck(mirror: Mirror, file: FileRef): Promise<Evidence | undefined>;
  /** Resolves when any mirror is found fresh for the path (undefined where nothing can tell, a worker). */
  whenFresh(path: string): { readonly fresh: Promise<void>; cancel(): void } | undefined;
}

/** Whether a request that found no eligible mirror may wait for checks. */
export function mayWait(context: FirstRequestContext, input: SelectionInput): boolean {
  return context.config.probe.enabled && context.config.freshness.firstRequestWaitMs > 0 && input.volatile !== true && input.file !== undefined;
}

/**
 * Resolves when a mirror passed a check of this file (one of this client's candidates, or any other
 * check under way), when every candidate was judged (missing, stale), or when the wait is over.
 * Candidates are checked in this client's order, the next one started when the one before is judged
 * against us or a share of the wait has passed: a file its best mirror holds costs one check, not three.
 */
export async function awaitVerifiedMirror(context: FirstRequestContext, input: SelectionInput): Promise<void> {
  const file = input.file as FileRef;
  const candidates = hopefulCandidates(input, context.states.hopeful, context.config.freshness.firstRequestCandidates);
  if (candidates.length === 0) return;
  const waitMs = context.config.freshness.firstRequestWaitMs;
  const other = context.whenFresh(file.path);
  await new Promise<void>((resolve) => {
    let finished = false;
    let next = 0;
    let judged = 0;
    const timers: NodeJS.Timeout[] = [];
    const finish = () => {
      if (finished) return;
      finished = true;
      for (const timer of timers) clearTimeout(timer);
      resolve();
    };
    const startNext = () => {
      const mirror = candidates[next];
      if (finished || mirror === undefined) return;
      next += 1;
      context.urgentCheck(mirror, file).then((evidence) => {
        if (evidence === undefined) return startNext(); // refused by the bound, or no verdict: the next one now
        judged += 1;
        if (evidence.status === 'fresh' || judged === candidates.length) finish();
        else startNext();
      }, startNext);
    };
    startNext();
    for (let i = 1; i < candidates.length; i++) timers.push(setTimeout(startNext, (waitMs * i) / (candidates.length + 1)));
    waitOut(waitMs, context.config.probe.timeoutMs, timers, finish);
    void other?.fresh.then(finish);
  });
  other?.cancel();
}

/**
 * Calls `finish` after `waitMs` of time the process could spend on the checks. When the event loop is
 * saturated (a burst of first requests), a timer fires late and answers already received wait behind
 * it; the wait is extended by that lateness, up to `capMs` in all, and ends after the poll phase.
 */
function waitOut(waitMs: number, capMs: number, timers: NodeJS.Timeout[], finish: () => void): void {
  const started = performance.now();
  const arm = (delay: number) => {
    const due = performance.now() + delay;
    timers.push(setTimeout(() => {
      const late = performance.now() - due;
      const spent = performance.now() - started;
      if (late > 10 && spent + late < Math.max(capMs, waitMs)) arm(late);
      else setImmediate(finish); // answers already waiting in the poll phase go first
    }, delay));
  };
  arm(waitMs);
}

/** The mirrors this client would get if every unverified mirror held the file, in its order. */
export function hopefulCandidates(input: SelectionInput, hopeful: SelectionState, n: number): Mirror[] {
  const out: Mirror[] = [];
  const avoid = new Set(input.avoid ?? []);
  // A scratch round-robin state: asking who would be next must not move the real one.
  const roundRobin = new Map(input.roundRobin);
  for (let i = 0; i < n; i++) {
    const { chosen } = chooseMirror({ ...input, state: hopeful, avoid, roundRobin });
    if (chosen === undefined) break;
    out.push(chosen);
    avoid.add(chosen.name);
  }
  return out;
}
