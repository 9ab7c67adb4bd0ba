// Everything selection needs for one request, gathered from the runtime's state. The download route,
// GET /_mirrorgate/explain and `mirrorgate explain` all build their input here, so they agree.
import type { Config } from '../config/load.js';
import type { ClientInfo } from '../http/client-address.js';
import type { RoundRobinState, SelectionFile, SelectionInput, SelectionState } from '../selection/select.js';
import { requestKey } from '../selection/hash.js';
import type { Locality } from './locality.js';

export interface SelectionContext {
  readonly config: Config;
  readonly locality: Locality;
  /** Mirror health, freshness and load; absent in offline tools that have none. */
  readonly states: SelectionState | undefined;
  readonly roundRobin: RoundRobinState;
  /** The clock mirror state is kept by (Date.now, or a test's). */
  readonly now: number;
  /** Is this file volatile metadata (config `volatile`)? */
  isVolatileFile(file: SelectionFile): boolean;
}

export function selectionInput(
  context: SelectionContext,
  client: ClientInfo,
  file: SelectionFile,
  avoid: ReadonlySet<string> | undefined,
  random: () => number,
): SelectionInput {
  const { locality } = context;
  return {
    plan: locality.plan(locality.locate(client.address)),
    // Without an address there is nothing to stick to: a uniform draw keeps the weights.
    key: client.address === '' ? Math.floor(random() * 4294967296) : requestKey(client.address, file.path),
    https: client.https,
    ipv6: client.family === 6,
    avoid,
    file,
    volatile: context.isVolatileFile(file),
    state: context.states,
    scheduler: context.config.scheduler,
    roundRobin: context.roundRobin,
    nowMs: context.now,
  };
}
