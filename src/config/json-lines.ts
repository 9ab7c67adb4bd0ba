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

/**
 * `line 2 column 5: <JSON.parse's message>` for its error on `text`, the same on every Node: Node 20's
 * messages give no position for most errors ("Unexpected token ','"), newer ones end with their own
 * "(line 2 column 5)", so the place is found by scanning the text with JSON's grammar.
 */
export function syntaxErrorLine(message: string, text: string): string {
  const at = firstSyntaxError(text);
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `line ${line} column ${column}: ${message.replace(/ \(line \d+ column \d+\)$/, '')}`;
}

/** The offset of the first character that makes `text` invalid JSON (text.length when it ends too soon). */
export function firstSyntaxError(text: string): number {
  let i = 0;
  const space = () => { while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i += 1; };
  const fail = (): never => { throw i; };
  const literal = (word: string) => { if (text.startsWith(word, i)) i += word.length; else fail(); };
  const string = () => {
    i += 1;
    for (;;) {
      if (i >= text.length) fail();
      const c = text.charCodeAt(i);
      if (c === 34) { i += 1; return; }
      if (c < 32) fail();
      if (c === 92) {
        const e = text[i + 1] ?? '';
        if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else if ('"\\/bfnrt'.includes(e) && e !== '') i += 2;
        else { i += 1; fail(); }
      } else i += 1;
    }
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (m === null || m[0] === '' || m[0] === '-') fail();
    i += (m as RegExpExecArray)[0].length;
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === '{') {
      i += 1;
      space();
      if (text[i] === '}') { i += 1; return; }
      for (;;) {
        space();
        if (text[i] !== '"') fail();
        string();
        space();
        if (text[i] !== ':') fail();
        i += 1;
        value();
        space();
        if (text[i] === ',') { i += 1; continue; }
        if (text[i] === '}') { i += 1; return; }
        fail();
      }
    } else if (c === '[') {
      i += 1;
      space();
      if (text[i] === ']') { i += 1; return; }
      for (;;) {
        value();
        space();
        if (text[i] === ',') { i += 1; continue; }
        if (text[i] === ']') { i += 1; return; }
        fail();
      }
    } else if (c === '"') string();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else number();
  };
  try {
    if (text.charCodeAt(0) === 0xfeff) i = 1;
    value();
    space();
    return i < text.length ? i : text.length;
  } catch (at) {
    return at as number;
  }
}
