// Escaping and the page shell shared by the mirror list and directory pages: one small inline style
// sheet, a viewport for phones, no script and nothing fetched from elsewhere.

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text or attribute value, escaped for HTML and XML alike. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string);
}

/** Bytes as people read them: 1.5 GiB, 320 KiB, 12 B. */
export function humanBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** An ISO date without milliseconds, UTC: 2026-11-27 23:05:10. */
export function humanDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

const STYLE = `
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#1b1b1b;background:#fff}
h1{font-size:1.3rem;word-break:break-all}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e3e3e3;vertical-align:top}
th a{color:inherit}
td.n,th.n{text-align:right;white-space:nowrap}
code{word-break:break-all;font-size:.85rem}
.up{color:#176117}.stale,.missing,.down{color:#9b1c1c}.checking{color:#7a5a00}
.chosen{background:#eef6ee}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}dd{margin:0}
@media (max-width:40rem){.wide{display:none}}
`;

/** A whole page; `body` (and `head`, extra lines for <head>) must already be escaped. */
export function page(title: string, body: string, options: { style?: string; head?: string } = {}): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">${options.head === undefined ? '' : `\n${options.head}`}
<title>${escapeHtml(title)}</title>
<style>${options.style ?? STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}
