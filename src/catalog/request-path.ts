// Turns the raw request target into a catalog key (a relative POSIX path without leading '/'), or says
// why it cannot be one. Anything that could climb out of the repository is refused here, before lookup.

export type RequestPath =
  | { readonly ok: true; readonly path: string }
  | { readonly ok: false; readonly status: 400; readonly reason: 'bad-encoding' | 'nul-byte' | 'dot-dot' | 'not-absolute' };

const PLAIN = /^\/[A-Za-z0-9_~+,=:@-][A-Za-z0-9_.~+,=:@-]*(?:\/[A-Za-z0-9_~+,=:@-][A-Za-z0-9_.~+,=:@-]*)*$/;

export function normalizeRequestPath(url: string): RequestPath {
  let end = url.length;
  const q = url.indexOf('?');
  if (q !== -1) end = q;
  const h = url.indexOf('#');
  if (h !== -1 && h < end) end = h;
  const raw = end === url.length ? url : url.slice(0, end);
  // Hot path: nothing to decode, no empty, dot or dot-dot segment (no segment starts with '.').
  if (PLAIN.test(raw)) return { ok: true, path: raw.slice(1) };
  if (!raw.startsWith('/')) return { ok: false, status: 400, reason: 'not-absolute' };
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return { ok: false, status: 400, reason: 'bad-encoding' };
  }
  if (decoded.includes('\0')) return { ok: false, status: 400, reason: 'nul-byte' };
  const parts: string[] = [];
  for (const part of decoded.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') return { ok: false, status: 400, reason: 'dot-dot' };
    parts.push(part);
  }
  return { ok: true, path: parts.join('/') };
}

const SAFE = /^[A-Za-z0-9\-._~/]*$/;

/** Percent-encodes a catalog path for a URL, keeping '/' between segments. */
export function encodePath(path: string): string {
  if (SAFE.test(path)) return path;
  return path.split('/').map(encodeURIComponent).join('/');
}
