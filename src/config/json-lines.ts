// Where things are in a JSON text, so a config problem can name its line as well as its path. The text
// has already parsed: this walker only records the line each value (and each key) starts on.

/** Path (as config problems spell it: `mirrors[0].weight`) → 1-based line. */
export function jsonLines(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  let i = 0;
  let line = 1;
  const skipSpace = () => {
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) line += 1;
      else if (c !== 32 && c !== 9 && c !== 13) break;
    }
  };
  const skipString = () => {
    for (i += 1; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 92) i += 1;
      else if (c === 34) break;
    }
    i += 1;
  };
  const value = (path: string): void => {
    skipSpace();
    lines.set(path, line);
    const c = text[i];
    if (c === '{') {
      i += 1;
      for (;;) {
        skipSpace();
        if (text[i] === '}' || i >= text.length) break;
        const start = i;
        const keyLine = line;
        skipString();
        const key = JSON.parse(text.slice(start, i)) as string;
        const child = path === '(root)' ? key : `${path}.${key}`;
        skipSpace();
        i += 1; // ':'
        value(child);
        lines.set(child, keyLine);
        skipSpace();
        if (text[i] === ',') i += 1;
      }
      i += 1;
    } else if (c === '[') {
      i += 1;
      for (let n = 0; ; n++) {
        skipSpace();
        if (text[i] === ']' || i >= text.length) break;
        value(`${path === '(root)' ? '' : path}[${n}]`);
        skipSpace();
        if (text[i] === ',') i += 1;
      }
      i += 1;
    } else if (c === '"') {
      skipString();
    } else {
      while (i < text.length && !/[\s,\]}]/.test(text[i] as string)) i += 1;
    }
  };
  value('(root)');
  return lines;
}

/** The line of `path`, or of its nearest parent that is in the text (a missing key's object). */
export function lineOf(lines: ReadonlyMap<string, number>, path: string): number | undefined {
  for (let p = path; ; p = p.replace(/(\.[^.[]*|\[\d+\])$/, '')) {
    const line = lines.get(p);
    if (line !== undefined) return line;
    const parent = p.replace(/(\.[^.[]*|\[\d+\])$/, '');
    if (parent === p || parent === '') return lines.get('(root)');
  }
}

/** `position 17` in a JSON.parse message (Node 20) → ` (line 2 column 5)`; newer Nodes say it themselves. */
export function syntaxErrorLine(message: string, text: string): string {
  if (/line \d+/.test(message)) return message;
  const match = /position (\d+)/.exec(message);
  if (match === null) return message;
  const before = text.slice(0, Number(match[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `${message} (line ${line} column ${column})`;
}
