// A directory's generated index page (and the same as JSON): name, size and date of each entry, sorted
// on the server by `?sort=name|size|date&order=asc|desc`, so it works without JavaScript. Every link is
// relative and goes through mirrorgate, which redirects each download as usual.
import { encodePath } from '../catalog/request-path.js';
import { escapeHtml, humanBytes, humanDate, page } from './html.js';

export interface ListingEntry {
  readonly name: string;
  readonly directory: boolean;
  /** Bytes; null for a directory. */
  readonly size: number | null;
  /** ISO 8601; null for a directory. */
  readonly modified: string | null;
}

export type SortKey = 'name' | 'size' | 'date';

export interface Listing {
  /** The directory, '/'-terminated, from the root: "/", "/pub/iso/". */
  readonly path: string;
  readonly entries: readonly ListingEntry[];
}

export function sortEntries(entries: ListingEntry[], key: SortKey, descending: boolean): ListingEntry[] {
  const byName = (a: ListingEntry, b: ListingEntry) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const compare = key === 'size' ? (a: ListingEntry, b: ListingEntry) => (a.size ?? -1) - (b.size ?? -1) || byName(a, b)
    : key === 'date' ? (a: ListingEntry, b: ListingEntry) => (a.modified ?? '').localeCompare(b.modified ?? '') || byName(a, b)
      : byName;
  const sorted = entries.sort(compare);
  if (descending) sorted.reverse();
  // Directories first, as file managers show them.
  return [...sorted.filter((e) => e.directory), ...sorted.filter((e) => !e.directory)];
}

export function parseSort(query: Record<string, unknown>): { key: SortKey; descending: boolean } {
  const key = query.sort === 'size' || query.sort === 'date' ? query.sort : 'name';
  return { key, descending: query.order === 'desc' };
}

export function listingPage(listing: Listing, sort: { key: SortKey; descending: boolean }): string {
  const header = (key: SortKey, label: string, cls = '') => {
    const order = sort.key === key && !sort.descending ? 'desc' : 'asc';
    const mark = sort.key === key ? (sort.descending ? ' ▼' : ' ▲') : '';
    return `<th${cls}><a href="?sort=${key}&amp;order=${order}">${label}${mark}</a></th>`;
  };
  const rows = listing.entries.map((e) => {
    const href = escapeHtml(encodePath(e.name) + (e.directory ? '/' : ''));
    return `<tr><td><a href="${href}">${escapeHtml(e.name)}${e.directory ? '/' : ''}</a></td>`
      + `<td class="n">${e.size === null ? '–' : humanBytes(e.size)}</td>`
      + `<td class="n wide">${e.modified === null ? '–' : humanDate(Date.parse(e.modified))}</td></tr>`;
  }).join('\n');
  const up = listing.path === '/' ? '' : '<tr><td><a href="../">../</a></td><td class="n">–</td><td class="n wide">–</td></tr>\n';
  const body = `<h1>Index of ${escapeHtml(listing.path)}</h1>
<table>
<thead><tr>${header('name', 'Name')}${header('size', 'Size', ' class="n"')}${header('date', 'Modified (UTC)', ' class="n wide"')}</tr></thead>
<tbody>
${up}${rows}
</tbody>
</table>
<p>${listing.entries.length} entries · <a href="?json">JSON</a></p>`;
  return page(`Index of ${listing.path}`, body);
}
