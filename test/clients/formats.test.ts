// The formats clients read, checked against their own definitions: Metalink 4 against a RELAX NG grammar
// of RFC 5854 (jing), sha256sum lines against GNU sha256sum -c, Link and digest header values as RFC 6249,
// RFC 9530 and aria2 parse them, piece hashes against an independent computation, and HTML escaping of
// odd names.
import t from 'tap';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { metalinkDocument, sha256sumLine } from '../../src/clients/metalink.js';
import { duplicateLink, metalinkLink } from '../../src/clients/headers.js';
import { listingPage, sortEntries } from '../../src/clients/listing.js';
import { escapeHtml } from '../../src/clients/html.js';
import { PieceHasher, pieceBytesFor } from '../../src/catalog/pieces.js';
import { prefers } from '../../src/routes/views.js';
import type { Mirror } from '../../src/config/load.js';

const SCHEMA = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../fixtures/metalink4.rnc');
const ODD = ['plain.iso', 'with space.iso', 'hash#mark.iso', 'per%cent.iso', 'ünïcødé.iso', '<script>alert(1).iso', 'a&b"c\'d.iso'];

function run(command: string, args: string[], cwd?: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => execFile(command, args, { cwd }, (e, stdout, stderr) => resolve({ code: e === null ? 0 : Number(e.code ?? -1), output: stdout + stderr })));
}

t.test('Metalink documents are valid RFC 5854 for odd names, with and without hashes, pieces and locations', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mirrorgate-meta4-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const files: string[] = [];
  ODD.forEach((name, i) => {
    const doc = metalinkDocument({
      name, size: 1000 * i, mtimeMs: 1_700_000_000_123 + i,
      sha256: i % 2 === 0 ? 'ab'.repeat(32) : undefined,
      pieces: i % 3 === 0 ? { pieceBytes: 262144, hashes: ['cd'.repeat(32), 'ef'.repeat(32)] } : undefined,
      urls: [{ url: `https://m1.example.org/pub/${encodeURIComponent(name)}`, location: 'DE' }, { url: `http://m2.example.org/${encodeURIComponent(name)}`, location: undefined }],
    }, 'mirrorgate/test');
    const file = join(dir, `${i}.meta4`);
    writeFileSync(file, doc);
    files.push(file);
  });
  const valid = await run('jing', ['-c', SCHEMA, ...files]);
  t.equal(valid.code, 0, valid.output.split('\n').filter((l) => !l.includes('[warning]')).join('\n'));

  // The grammar does refuse what RFC 5854 forbids: a priority of 0, a three-letter location, no file.
  const broken = join(dir, 'broken.meta4');
  for (const bad of [
    (d: string) => d.replace('priority="1"', 'priority="0"'),
    (d: string) => d.replace('location="de"', 'location="deu"'),
    (d: string) => d.replace(/<file[\s\S]*<\/file>/, ''),
  ]) {
    writeFileSync(broken, bad(metalinkDocument({ name: 'x', size: 1, mtimeMs: 0, sha256: undefined, pieces: undefined, urls: [{ url: 'http://a/x', location: 'de' }] }, 'g')));
    t.not((await run('jing', ['-c', SCHEMA, broken])).code, 0, 'refused');
  }
  const doc = metalinkDocument({ name: '<script>', size: 1, mtimeMs: 1_700_000_000_999, sha256: undefined, pieces: undefined, urls: [] }, 'g');
  t.match(doc, '<file name="&lt;script&gt;">');
  t.match(doc, '<published>2023-11-14T22:13:20Z</published>', 'whole seconds, UTC');
});

t.test('sha256sum lines read back by GNU sha256sum -c, odd names included', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mirrorgate-sum-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const name of [...ODD, 'back\\slash.iso', 'new\nline.iso']) {
    const content = randomBytes(100);
    writeFileSync(join(dir, name), content);
    const line = sha256sumLine(createHash('sha256').update(content).digest('hex'), name);
    writeFileSync(join(dir, 'SUMS'), line);
    const check = await run('sha256sum', ['-c', 'SUMS'], dir);
    t.equal(check.code, 0, `${JSON.stringify(name)}: ${check.output}`);
  }
  t.equal(sha256sumLine('ab'.repeat(32), 'x.iso'), `${'ab'.repeat(32)}  x.iso\n`);
});

t.test('Link and digest header values', async (t) => {
  const mirror = { name: 'de1', country: 'DE' } as Mirror;
  const link = duplicateLink('https://de1.example.org/pub/a%20b.iso', mirror, 2);
  t.equal(link, '<https://de1.example.org/pub/a%20b.iso>; rel=duplicate; pri=2; geo=de');
  // As aria2 reads one: a URI in angle brackets, then ;-separated parameters.
  const match = /^<([^>]+)>((?:; [a-z]+=[^;]+)+)$/.exec(link);
  t.ok(match);
  t.same(Object.fromEntries((match?.[2] ?? '').split('; ').slice(1).map((p) => p.split('='))), { rel: 'duplicate', pri: '2', geo: 'de' });
  t.equal(duplicateLink('http://x/', { name: 'n', country: undefined } as Mirror, 1), '<http://x/>; rel=duplicate; pri=1', 'no geo without a country');
  t.equal(metalinkLink('pub/a%20b.iso'), '</pub/a%20b.iso.meta4>; rel=describedby; type="application/metalink4+xml"');
});

t.test('Accept: the Metalink document only when preferred to the file', async (t) => {
  t.notOk(prefers('*/*,application/metalink4+xml,application/metalink+xml', 'application/metalink4+xml'), 'aria2: no preference, so the 302');
  t.ok(prefers('application/metalink4+xml', 'application/metalink4+xml'));
  t.ok(prefers('application/metalink4+xml, */*;q=0.1', 'application/metalink4+xml'));
  t.notOk(prefers('application/metalink4+xml;q=0, */*', 'application/metalink4+xml'));
  t.notOk(prefers('text/html,*/*;q=0.8', 'application/metalink4+xml'));
  t.notOk(prefers('application/*, application/metalink4+xml', 'application/metalink4+xml'));
});

t.test('piece hashes and piece lengths', async (t) => {
  t.equal(pieceBytesFor(0), 262144);
  t.equal(pieceBytesFor(256 * 1024 * 1024), 262144);
  t.equal(pieceBytesFor(256 * 1024 * 1024 + 1), 524288);
  t.equal(pieceBytesFor(4 * 1024 ** 3), 4 * 1024 * 1024, '4 GiB in 1,024 pieces of 4 MiB');
  const data = randomBytes(262144 * 3 + 1000);
  const hasher = new PieceHasher(262144);
  // Odd chunk sizes, so pieces are cut across chunks.
  const chunks = function* () {
    for (let at = 0; at < data.length; at += 100_003) yield data.subarray(at, at + 100_003);
  };
  await pipeline(Readable.from(chunks()), hasher);
  const { sha256, pieces } = hasher.result();
  t.equal(sha256, createHash('sha256').update(data).digest('hex'));
  t.equal(pieces.length, 4 * 32);
  for (let i = 0; i < 4; i++) {
    t.same(pieces.subarray(i * 32, i * 32 + 32), createHash('sha256').update(data.subarray(i * 262144, (i + 1) * 262144)).digest(), `piece ${i}`);
  }
});

t.test('directory pages escape odd names in text and links', async (t) => {
  const entries = ODD.map((name) => ({ name, directory: false, size: 10, modified: '2026-01-01T00:00:00.000Z' }));
  const html = listingPage({ path: '/pub/<x>/', entries: sortEntries([...entries, { name: 'sub dir', directory: true, size: null, modified: null }], 'name', false) },
    { key: 'name', descending: false });
  t.notMatch(html, /<script>/, 'no markup from a name');
  t.match(html, '<h1>Index of /pub/&lt;x&gt;/</h1>');
  t.match(html, '<a href="with%20space.iso">with space.iso</a>');
  t.match(html, '<a href="hash%23mark.iso">hash#mark.iso</a>');
  t.match(html, '<a href="per%25cent.iso">per%cent.iso</a>');
  t.match(html, '<a href="%C3%BCn%C3%AFc%C3%B8d%C3%A9.iso">ünïcødé.iso</a>');
  t.match(html, '<a href="%3Cscript%3Ealert(1).iso">&lt;script&gt;alert(1).iso</a>');
  t.match(html, `<a href="a%26b%22c&#39;d.iso">a&amp;b&quot;c&#39;d.iso</a>`);
  t.match(html, '<a href="sub%20dir/">sub dir/</a>');
  t.ok(html.indexOf('sub dir/') < html.indexOf('plain.iso'), 'directories first');
  t.equal(escapeHtml(`<>&"'`), '&lt;&gt;&amp;&quot;&#39;');
});
