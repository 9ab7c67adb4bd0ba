// Which catalog paths are "volatile": repository metadata whose content changes under a fixed name
// (Release, InRelease, repomd.xml, checksum lists). A pattern without '/' matches the file name in any
// directory; with '/', the whole path. '*' matches within a segment, '**' across segments, '?' one char.

export function volatileMatcher(patterns: readonly string[]): (path: string) => boolean {
  if (patterns.length === 0) return () => false;
  const byName = patterns.filter((p) => !p.includes('/')).map(globToSource);
  const byPath = patterns.filter((p) => p.includes('/')).map((p) => globToSource(p.replace(/^\/+/, '')));
  const name = byName.length > 0 ? new RegExp(`^(?:${byName.join('|')})$`) : undefined;
  const full = byPath.length > 0 ? new RegExp(`^(?:${byPath.join('|')})$`) : undefined;
  // Testing the file name alone keeps the common case (name patterns only) to one short match.
  return (path) => (name?.test(path.slice(path.lastIndexOf('/') + 1)) ?? false) || (full?.test(path) ?? false);
}

function globToSource(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      out += '.*';
      i += 1;
      if (glob[i + 1] === '/') i += 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return out;
}
