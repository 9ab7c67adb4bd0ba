// The mirror list of one file (`?mirrorlist`), as data and as a page: the file's facts, where the client
// seems to be, the mirror it would get and the others in its order. Public: restricted and disabled
// mirrors are left out, and a mirror's state is one word, never the probe's reason.
import { posix } from 'node:path';
import type { Location } from '../geo/records.js';
import { mirrorBase, type Mirror } from '../config/load.js';
import { rankMirrors, reasonToSkip, type SelectionInput } from '../selection/select.js';
import type { ExclusionReason } from '../selection/reasons.js';
import { encodePath } from '../catalog/request-path.js';
import { escapeHtml, humanBytes, humanDate, page } from './html.js';

export type PublicState = 'up' | 'stale' | 'missing' | 'down' | 'checking' | 'http-only';

export interface ListedMirror {
  readonly name: string;
  readonly url: string;
  readonly country: string | null;
  readonly continent: string | null;
  readonly distanceKm: number | null;
  readonly state: PublicState;
  /** 1 for the mirror this client gets, then 2, 3… for the next ones; null when it cannot serve now. */
  readonly rank: number | null;
}

export interface MirrorList {
  readonly file: { readonly path: string; readonly size: number; readonly modified: string; readonly sha256: string | null };
  readonly client: { readonly country: string | null; readonly continent: string | null; readonly asn: number | null };
  readonly mirrors: readonly ListedMirror[];
}

const STATE_OF: Record<ExclusionReason, PublicState | undefined> = {
  disabled: undefined, 'country-only': undefined, 'continent-only': undefined, 'excluded-country': undefined,
  avoided: 'up', 'no-https': 'http-only', down: 'down', missing: 'missing', stale: 'stale', unverified: 'checking',
};

export function mirrorList(
  input: SelectionInput, location: Location, file: { path: string; size: number; mtimeMs: number }, sha256: string | undefined, max: number,
): MirrorList {
  const urlOf = (m: Mirror) => mirrorBase(m, input.https) + encodePath(file.path);
  const ranked = rankMirrors(input, max);
  const rankOf = new Map(ranked.map((r, i) => [r.mirror.name, i + 1]));
  const listed: ListedMirror[] = [];
  const others: ListedMirror[] = [];
  for (const planned of input.plan.members) {
    const { mirror } = planned;
    const rank = rankOf.get(mirror.name);
    const reason = rank === undefined ? reasonToSkip(mirror, input) : undefined;
    const state: PublicState | undefined = reason === undefined ? 'up' : STATE_OF[reason];
    if (state === undefined) continue;
    const entry: ListedMirror = {
      name: mirror.name, url: urlOf(mirror), country: mirror.country ?? null, continent: mirror.continent ?? null,
      distanceKm: planned.distanceKm === undefined ? null : Math.round(planned.distanceKm), state, rank: rank ?? null,
    };
    (rank === undefined ? others : listed).push(entry);
  }
  listed.sort((a, b) => (a.rank as number) - (b.rank as number));
  return {
    file: { path: file.path, size: file.size, modified: new Date(file.mtimeMs).toISOString(), sha256: sha256 ?? null },
    client: { country: location.country ?? null, continent: location.continent ?? null, asn: location.asn ?? null },
    mirrors: [...listed, ...others].slice(0, Math.max(max, listed.length)),
  };
}

export function mirrorListPage(list: MirrorList): string {
  const { file, client } = list;
  const name = posix.basename(file.path);
  const where = client.country === null ? 'unknown' : `${client.country}${client.continent === null ? '' : ` (${client.continent})`}`;
  const rows = list.mirrors.map((m) => `<tr class="${m.rank === 1 ? 'chosen' : ''}">
<td class="n">${m.rank ?? '–'}</td>
<td><a href="${escapeHtml(m.url)}" rel="nofollow">${escapeHtml(m.name)}</a></td>
<td>${escapeHtml(m.country ?? '–')}</td>
<td class="n wide">${m.distanceKm === null ? '–' : `${m.distanceKm} km`}</td>
<td class="${m.state}">${m.state}</td>
</tr>`).join('\n');
  const chosen = list.mirrors.find((m) => m.rank === 1);
  const body = `<h1>${escapeHtml(name)}</h1>
<dl>
<dt>Path</dt><dd><code>/${escapeHtml(file.path)}</code></dd>
<dt>Size</dt><dd>${humanBytes(file.size)} (${file.size} bytes)</dd>
<dt>Modified</dt><dd>${humanDate(Date.parse(file.modified))} UTC</dd>
<dt>SHA-256</dt><dd>${file.sha256 === null ? 'not computed yet' : `<code>${file.sha256}</code>`}</dd>
<dt>You seem to be in</dt><dd>${escapeHtml(where)}${client.asn === null ? '' : `, network AS${client.asn}`}</dd>
<dt>You get</dt><dd>${chosen === undefined ? 'this server (no mirror holds this copy yet)' : `<a href="${escapeHtml(chosen.url)}">${escapeHtml(chosen.name)}</a>`}</dd>
</dl>
<h2>Mirrors</h2>
<table>
<thead><tr><th class="n">#</th><th>Mirror</th><th>Country</th><th class="n wide">Distance</th><th>State</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
<p><a href="${escapeHtml(encodePath(name))}.meta4">Metalink</a> · <a href="${escapeHtml(encodePath(name))}.sha256">SHA-256</a> · <a href="?mirrorlist=json">JSON</a></p>`;
  return page(`${name}: mirrors`, body);
}
