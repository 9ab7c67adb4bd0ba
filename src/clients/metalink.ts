// Metalink 4 (RFC 5854) documents and sha256sum lines: pure text from the file's facts.
import { escapeHtml as escapeXml } from './html.js';

export interface MetalinkFile {
  /** The file's name (its last path segment). */
  readonly name: string;
  readonly size: number;
  readonly mtimeMs: number;
  /** Lowercase hex, undefined until hashed. */
  readonly sha256: string | undefined;
  readonly pieces: { readonly pieceBytes: number; readonly hashes: readonly string[] } | undefined;
  /** Where to get it, best first: priority is 1 + index. */
  readonly urls: readonly { readonly url: string; readonly location: string | undefined }[];
}

export const METALINK_TYPE = 'application/metalink4+xml';

export function metalinkDocument(file: MetalinkFile, generator: string): string {
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<metalink xmlns="urn:ietf:params:xml:ns:metalink">',
    `  <generator>${escapeXml(generator)}</generator>`,
    `  <published>${new Date(Math.floor(file.mtimeMs / 1000) * 1000).toISOString().replace('.000Z', 'Z')}</published>`,
    `  <file name="${escapeXml(file.name)}">`,
    `    <size>${file.size}</size>`,
  ];
  if (file.sha256 !== undefined) lines.push(`    <hash type="sha-256">${file.sha256}</hash>`);
  if (file.pieces !== undefined && file.pieces.hashes.length > 0) {
    lines.push(`    <pieces length="${file.pieces.pieceBytes}" type="sha-256">`);
    for (const hash of file.pieces.hashes) lines.push(`      <hash>${hash}</hash>`);
    lines.push('    </pieces>');
  }
  file.urls.forEach(({ url, location }, i) => {
    const where = location === undefined ? '' : ` location="${escapeXml(location.toLowerCase())}"`;
    lines.push(`    <url${where} priority="${i + 1}">${escapeXml(url)}</url>`);
  });
  lines.push('  </file>', '</metalink>', '');
  return lines.join('\n');
}

/**
 * One line in `sha256sum`'s format, which `sha256sum -c` reads back. A name with a newline or a
 * backslash is escaped the way GNU sha256sum does it (a leading backslash, then \\ and \n).
 */
export function sha256sumLine(sha256: string, name: string): string {
  if (!/[\\\n\r]/.test(name)) return `${sha256}  ${name}\n`;
  return `\\${sha256}  ${name.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}\n`;
}
