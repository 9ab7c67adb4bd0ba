// Everything selection needs for one request, gathered from the runtime's state. The download route,
// GET /_mirrorgate/explain and `mirrorgate explain` all build their input here, so they agree.
import type { ClientInfo } from '../http/client-address.js';
import type { SelectionInput } from '../selection/select.js';
import { requestKey } from '../selection/hash.js';
import type { Locality } from './locality.js';

export function selectionInput(
  locality: Locality,
  client: ClientInfo,
  path: string,
  avoid: ReadonlySet<string> | undefined,
  random: () => number,
): SelectionInput {
  return {
    plan: locality.plan(locality.locate(client.address)),
    // Without an address there is nothing to stick to: a uniform draw keeps the weights.
    key: client.address === '' ? Math.floor(random() * 4294967296) : requestKey(client.address, path),
    https: client.https,
    ipv6: client.family === 6,
    avoid,
  };
}
