// The operator's dashboard at /_mirrorgate/: one HTML page drawn on the server from dashboardData(),
// with its charts as inline SVG and its style inline. It reloads itself every REFRESH_SECONDS (a meta
// refresh: no script at all), and fetches nothing from anywhere, so it works on a host with no internet.
import { escapeHtml, humanBytes, humanDate, page } from '../clients/html.js';
import { FALLBACK, LOCAL } from '../counters/counters.js';
import type { KeyStats } from '../counters/download-store.js';
import { stackedBars, type BarSeries } from './chart.js';
import { OTHERS, type Chart, type DashboardData, type MirrorRow } from './data.js';
import type { ClusterStatus } from '../sharing/link.js';

export const REFRESH_SECONDS = 30;

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const FIXED: Record<string, string> = { [LOCAL]: '#3b3b3b', [FALLBACK]: '#bcbd22', [OTHERS]: '#c7c7c7' };

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:92rem;padding:1rem;color:#1b1b1b;background:#fff}
h1{font-size:1.3rem;margin:.2rem 0}h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
.meta{color:#555}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.25rem .45rem;border-bottom:1px solid #e6e6e6;vertical-align:top}
td.n,th.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto}
.up{color:#176117}.down{color:#9b1c1c;font-weight:600}.unknown,.unprobed{color:#7a5a00}.disabled{color:#777}
.warn{background:#fff4d6;border:1px solid #c9a227;padding:.4em .6em}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(34rem,1fr));gap:1rem}
figure{margin:0}figcaption{font-weight:600;margin-bottom:.2rem}svg{width:100%;height:auto}
.legend{list-style:none;padding:0;margin:.2rem 0;display:flex;flex-wrap:wrap;gap:.2rem .9rem;font-size:.85rem}
.swatch{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:-.1rem}
.bar{background:#1f77b4;height:.7rem;display:inline-block}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(26rem,1fr));gap:1rem}
code{word-break:break-all;font-size:.85rem}
`;

export function dashboardPage(data: DashboardData): string {
  const up = data.mirrors.filter((m) => m.state === 'up' || m.state === 'unprobed').length;
  const enabled = data.mirrors.filter((m) => m.enabled).length;
  const body = `<h1>mirrorgate</h1>
<p class="meta">${humanDate(data.generatedAt)} UTC · ${data.files} files · mirrors: <span id="mirrors-up">${up}</span> of ${enabled} enabled up
(${data.mirrors.length} configured) · this page reloads every ${REFRESH_SECONDS} s</p>
${data.cluster === null ? '' : clusterSection(data.cluster)}
<h2>Mirrors</h2>
${mirrorTable(data.mirrors)}
<h2>Traffic</h2>
<div class="charts">
${chartOf('requests-48h', 'Requests per hour, last 48 hours', data.hours, 'requests', 6)}
${chartOf('bytes-48h', 'Bytes per hour, last 48 hours', data.hours, 'bytes', 6)}
${chartOf('requests-30d', 'Requests per day, last 30 days', data.days, 'requests', 5)}
${chartOf('bytes-30d', 'Bytes per day, last 30 days', data.days, 'bytes', 5)}
</div>
<div class="cols">
<section><h2>Downloads by country, last 30 days</h2>${countries(data.countries)}</section>
<section><h2>Recent state changes</h2>${events(data)}</section>
</div>
<div class="cols">
<section><h2>Top files, last 24 hours</h2>${files('top-files-24h', data.topFilesDay)}</section>
<section><h2>Top files, last 30 days</h2>${files('top-files-30d', data.topFilesMonth)}</section>
</div>`;
  return page('mirrorgate dashboard', body, { style: STYLE, head: `<meta http-equiv="refresh" content="${REFRESH_SECONDS}">` });
}

/** The instances sharing cluster.redis: who is live, which config each runs, what this one probes. */
function clusterSection(c: ClusterStatus): string {
  const state = c.connected
    ? `connected to ${escapeHtml(c.redis)}: ${c.instances} instance${c.instances === 1 ? '' : 's'} live; this one (${escapeHtml(c.instance)}) probes ${c.leases.length === 0 ? 'no mirror' : escapeHtml(c.leases.join(', '))}`
    : `<span class="down">redis at ${escapeHtml(c.redis)} unreachable</span>: this instance probes every mirror itself and counts only its own load`;
  const drift = c.configDrift
    ? '<p class="warn" id="config-drift">Config drift: the instances run different mirrors.json files (the digests below differ). Roll the same file out to every host.</p>'
    : '';
  const rows = c.members.map((m) => `<tr><td>${escapeHtml(m.name)}</td><td>${escapeHtml(m.role)}</td><td><code>${escapeHtml(m.digest.slice(0, 12))}</code></td>`
    + `<td class="${m.sameConfig ? 'up' : 'down'}">${m.sameConfig ? 'same as here' : 'differs'}</td></tr>`).join('\n');
  return `<h2>Cluster</h2>
<p id="cluster-state">${state} · cluster totals waiting to be sent: ${c.totalsPending}</p>
${drift}
${c.members.length === 0 ? '' : `<table id="cluster"><thead><tr><th>instance</th><th>process</th><th>mirrors.json sha256</th><th>config</th></tr></thead><tbody>
${rows}
</tbody></table>`}`;
}

const STATE_ORDER: Record<string, number> = { down: 0, unknown: 1, unprobed: 2, up: 3, disabled: 4 };

function mirrorTable(mirrors: readonly MirrorRow[]): string {
  const rows = [...mirrors].sort((a, b) => (STATE_ORDER[a.state] ?? 1) - (STATE_ORDER[b.state] ?? 1)
    || b.lastDay.bytes - a.lastDay.bytes || a.name.localeCompare(b.name));
  const n = (v: number) => `<td class="n">${v}</td>`;
  const body = rows.map((m) => `<tr data-mirror="${escapeHtml(m.name)}">
<td>${escapeHtml(m.name)}</td><td>${escapeHtml(m.country ?? '')}</td>
<td class="${escapeHtml(m.state)}" data-field="state">${escapeHtml(m.state)}</td><td>${escapeHtml(m.state === 'up' || !m.enabled ? '' : m.reason)}</td>
<td class="n">${m.since === null ? '' : humanDate(m.since)}</td><td class="n">${m.latencyMs === null ? '' : `${Math.round(m.latencyMs)} ms`}</td>
${n(m.fresh)}${n(m.stale)}${n(m.missing)}
<td class="n">${m.syncStamp === null ? '' : humanDate(m.syncStamp)}</td>
<td class="n">${Math.round(m.effectiveMbps)} / ${m.declaredMbps}</td><td class="n">${(m.utilisation * 100).toFixed(1)}%</td>
<td class="n" data-field="requests-1h">${m.lastHour.requests}</td><td class="n">${humanBytes(m.lastHour.bytes)}</td>
<td class="n" data-field="requests-24h">${m.lastDay.requests}</td><td class="n" data-field="bytes-24h" data-value="${m.lastDay.bytes}">${humanBytes(m.lastDay.bytes)}</td>
</tr>`).join('\n');
  return `<div class="scroll"><table id="mirrors">
<thead><tr><th>mirror</th><th>country</th><th>state</th><th>reason</th><th class="n">since</th><th class="n">probe</th>
<th class="n" title="files whose current copy a check found on the mirror">fresh</th><th class="n">stale</th><th class="n">missing</th>
<th class="n">synced</th><th class="n" title="effective / declared">Mbit/s</th><th class="n">load</th>
<th class="n">req 1 h</th><th class="n">bytes 1 h</th><th class="n">req 24 h</th><th class="n">bytes 24 h</th></tr></thead>
<tbody>
${body}
</tbody></table></div>`;
}

function chartOf(id: string, title: string, chart: Chart, what: 'requests' | 'bytes', labelEvery: number): string {
  const hourly = chart.bucketMs === 3_600_000;
  const labels = chart.buckets.map((ms) => (hourly ? new Date(ms).toISOString().slice(5, 13).replace('T', ' ') + 'h' : new Date(ms).toISOString().slice(0, 10)));
  let palette = 0;
  const series: BarSeries[] = chart.series.map((s) => ({
    name: s.target, color: FIXED[s.target] ?? PALETTE[palette++ % PALETTE.length] as string, values: s[what],
  }));
  return stackedBars({ id, title, labels, labelEvery, series, format: what === 'bytes' ? humanBytes : (v) => String(Math.round(v)) });
}

function countries(rows: readonly KeyStats[]): string {
  if (rows.length === 0) return '<p>No downloads counted yet.</p>';
  const max = Math.max(...rows.map((r) => r.downloads));
  return `<table id="countries"><thead><tr><th>country</th><th class="n">downloads</th><th class="n">bytes</th><th></th></tr></thead><tbody>
${rows.map((r) => `<tr data-country="${escapeHtml(r.key)}"><td>${escapeHtml(r.key === '--' ? 'unknown' : r.key)}</td><td class="n">${r.downloads}</td>`
    + `<td class="n">${humanBytes(r.bytes)}</td><td><span class="bar" style="width:${((100 * r.downloads) / max).toFixed(1)}%"></span></td></tr>`).join('\n')}
</tbody></table>`;
}

function files(id: string, rows: readonly KeyStats[]): string {
  if (rows.length === 0) return '<p>No downloads counted yet.</p>';
  return `<table id="${id}"><thead><tr><th>file</th><th class="n">downloads</th><th class="n">bytes</th></tr></thead><tbody>
${rows.map((r) => `<tr data-path="${escapeHtml(r.key)}"><td><code>${escapeHtml(r.key)}</code></td><td class="n">${r.downloads}</td><td class="n">${humanBytes(r.bytes)}</td></tr>`).join('\n')}
</tbody></table>`;
}

function events(data: DashboardData): string {
  if (data.events.length === 0) return '<p>No mirror has changed state.</p>';
  return `<table id="events"><thead><tr><th class="n">when (UTC)</th><th>mirror</th><th>change</th><th>reason</th></tr></thead><tbody>
${data.events.map((e) => `<tr><td class="n">${humanDate(e.at)}</td><td>${escapeHtml(e.mirror)}</td>`
    + `<td><span class="${escapeHtml(e.from_state)}">${escapeHtml(e.from_state)}</span> → <span class="${escapeHtml(e.to_state)}">${escapeHtml(e.to_state)}</span></td>`
    + `<td>${escapeHtml(e.reason)}</td></tr>`).join('\n')}
</tbody></table>`;
}
