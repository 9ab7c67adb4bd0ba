// Stacked bar charts as inline SVG, drawn on the server: no script, no library, nothing fetched. Each
// bar segment carries its series, bucket and value as data attributes and a <title> (the browser's own
// tooltip), so the numbers behind a chart can be read by people and by tests alike.
import { escapeHtml } from '../clients/html.js';

export interface BarSeries {
  readonly name: string;
  readonly color: string;
  readonly values: readonly number[];
}

export interface BarChart {
  readonly id: string;
  readonly title: string;
  /** One label per bucket; every `labelEvery`-th is written under the axis. */
  readonly labels: readonly string[];
  readonly labelEvery: number;
  readonly series: readonly BarSeries[];
  readonly format: (value: number) => string;
}

const WIDTH = 760;
const HEIGHT = 200;
const LEFT = 70;
const BOTTOM = 22;
const TOP = 8;

export function stackedBars(chart: BarChart): string {
  const count = chart.labels.length;
  const totals = chart.labels.map((_, i) => chart.series.reduce((s, x) => s + (x.values[i] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const plotW = WIDTH - LEFT - 4;
  const plotH = HEIGHT - TOP - BOTTOM;
  const step = plotW / count;
  const barW = Math.max(1, step - 2);
  const y = (v: number) => TOP + plotH - (v / max) * plotH;
  const parts: string[] = [];
  for (const frac of [0, 0.5, 1]) {
    const gy = y(max * frac).toFixed(1);
    parts.push(`<line x1="${LEFT}" x2="${WIDTH - 4}" y1="${gy}" y2="${gy}" stroke="#ddd"/>`,
      `<text x="${LEFT - 6}" y="${gy}" text-anchor="end" dominant-baseline="middle">${escapeHtml(chart.format(max * frac))}</text>`);
  }
  for (let i = 0; i < count; i++) {
    const x = (LEFT + i * step + 1).toFixed(1);
    let base = 0;
    for (const s of chart.series) {
      const v = s.values[i] ?? 0;
      if (v <= 0) continue;
      const top = y(base + v);
      const h = y(base) - top;
      base += v;
      const label = chart.labels[i] ?? '';
      parts.push(`<rect x="${x}" y="${top.toFixed(1)}" width="${barW.toFixed(1)}" height="${Math.max(h, 0.5).toFixed(1)}" fill="${s.color}" `
        + `data-series="${escapeHtml(s.name)}" data-bucket="${escapeHtml(label)}" data-value="${v}"><title>${escapeHtml(`${s.name}, ${label}: ${chart.format(v)}`)}</title></rect>`);
    }
    if (i % chart.labelEvery === 0) {
      parts.push(`<text x="${x}" y="${HEIGHT - 6}">${escapeHtml(chart.labels[i] ?? '')}</text>`);
    }
  }
  const legend = chart.series.map((s) => `<li><span class="swatch" style="background:${s.color}"></span>${escapeHtml(s.name)}</li>`).join('');
  return `<figure class="chart" id="${escapeHtml(chart.id)}">
<figcaption>${escapeHtml(chart.title)}</figcaption>
<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(chart.title)}" font-size="11">${parts.join('')}</svg>
<ul class="legend">${legend}</ul>
</figure>`;
}
