// The first requests for a large file that no mirror is known to hold yet (new, or just replaced): rather
// than sending its bytes from the repository, the request waits a short while (freshness.firstRequestWaitMs)
// for content checks of the mirrors this client would get, best first. Every request for the same copy
// shares those checks, and at most freshness.urgentChecks run at once. Files that already have fresh
// evidence never come here: their redirect does no I/O and no waiting.
import type { Mirror } from '../config/load.js';
import type { Evidence, FileRef } from '../probing/freshness.js';
import { chooseMirror, type SelectionInput, type SelectionState } from '../selection/select.js';

export interface FirstRequestContext {
  readonly config: { readonly probe: { readonly enabled: boolean }; readonly freshness: { readonly firstRequestWaitMs: number; readonly firstRequestCandidates: number } };
  readonly states: { readonly hopeful: SelectionState };
  urgentCheck(mirror: Mirror, file: FileRef): Promise<Evidence | undefined>;
}

/** Whether a request that found no eligible mirror may wait for checks. */
export function mayWait(context: FirstRequestContext, input: SelectionInput): boolean {
  return context.config.probe.enabled && context.config.freshness.firstRequestWaitMs > 0 && input.volatile !== true && input.file !== undefined;
}

/** Resolves when one of the best candidates passed its check, all of them were judged, or the wait is over. */
export async function awaitVerifiedMirror(context: FirstRequestContext, input: SelectionInput): Promise<void> {
  const file = input.file as FileRef;
  const candidates = hopefulCandidates(input, context.states.hopeful, context.config.freshness.firstRequestCandidates);
  if (candidates.length === 0) return;
  const checks = candidates.map((m) => context.urgentCheck(m, file));
  await firstFresh(checks, context.config.freshness.firstRequestWaitMs);
}

/** The mirrors this client would get if every unverified mirror held the file, in its order. */
export function hopefulCandidates(input: SelectionInput, hopeful: SelectionState, n: number): Mirror[] {
  const out: Mirror[] = [];
  const avoid = new Set(input.avoid ?? []);
  for (let i = 0; i < n; i++) {
    const { chosen } = chooseMirror({ ...input, state: hopeful, avoid });
    if (chosen === undefined) break;
    out.push(chosen);
    avoid.add(chosen.name);
  }
  return out;
}

function firstFresh(checks: readonly Promise<Evidence | undefined>[], waitMs: number): Promise<void> {
  return new Promise((resolve) => {
    let left = checks.length;
    const timer = setTimeout(resolve, waitMs);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    for (const check of checks) {
      check.then((evidence) => {
        left -= 1;
        if (evidence?.status === 'fresh' || left === 0) done();
      }, () => {
        left -= 1;
        if (left === 0) done();
      });
    }
  });
}
