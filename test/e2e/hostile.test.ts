// The hostile corpus: requests an attacker would send, byte for byte over raw sockets to the real
// server process (no client library to tidy them up). The invariants, for every case: no 5xx, no
// Location outside the configured mirrors and fallbackUrl, and the process stays up and keeps serving.
import t from 'tap';
import { makeFixture, rawRequest, serveProcess, writeConfig, type RawAnswer } from '../helper.js';

const MIRRORS = ['https://eu.example.org/pub/', 'https://us.example.org/'];
const FALLBACK = 'https://master.example.org/files/';

const req = (target: string, headers: string[] = ['Host: x'], method = 'GET') => `${method} ${target} HTTP/1.1\r\n${[...headers, 'Connection: close'].join('\r\n')}\r\n\r\n`;

function corpus(): [string, string | Buffer][] {
  const cases: [string, string | Buffer][] = [];
  // Traversal in every encoding, at every depth, towards files inside and outside the repository.
  const dots = ['..', '%2e%2e', '%2E%2E', '.%2e', '%2e.', '%252e%252e', '%c0%ae%c0%ae', '%e0%80%ae%e0%80%ae', '..;', '...', '....', '.%00.', '%2e%2e%00'];
  const seps = ['/', '%2f', '%2F', '%5c', '\\', '%252f', '//'];
  for (const dot of dots) {
    for (const sep of seps) cases.push([`traversal ${dot}${sep}`, req(`/releases/${dot}${sep}${dot}${sep}etc/passwd`)]);
  }
  for (const target of ['/../../../../etc/passwd', '/releases/1.0/../../../mirrors.json', '/./releases/./1.0/./big.iso', '/releases/1.0/big.iso/..',
    '/releases/1.0/big.iso%00', '/releases/1.0/big.iso%00.txt', '/releases/1.0/big.iso?x=../../etc/passwd', '/releases/1.0/big.iso#../x',
    '/%', '/%%', '/%zz', '/%u002e%u002e/etc/passwd', `/${'a/'.repeat(2000)}x`, `/${'%2e%2e/'.repeat(500)}etc/passwd`]) {
    cases.push([`target ${target.slice(0, 60)}`, req(target)]);
  }
  // Request-target forms that are not origin-form.
  cases.push(['absolute-form to another host', req('http://evil.example/releases/1.0/big.iso')]);
  cases.push(['absolute-form https', req('https://evil.example/../etc/passwd')]);
  cases.push(['asterisk-form', req('*', ['Host: x'], 'OPTIONS')]);
  cases.push(['authority-form CONNECT', 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n']);
  cases.push(['empty target', 'GET  HTTP/1.1\r\nHost: x\r\n\r\n']);
  cases.push(['no leading slash', req('releases/1.0/big.iso')]);
  // Methods.
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'PURGE',
    'SEARCH', 'REPORT', 'M-SEARCH', 'NOTIFY', 'SUBSCRIBE', 'QUERY', 'get', 'G ET', 'GETT', 'FOO', '\u00c9GET']) {
    cases.push([`method ${method}`, req('/releases/1.0/big.iso', ['Host: x', 'Content-Length: 5'], method).replace('\r\n\r\n', '\r\n\r\nhello')]);
  }
  // Smuggling and framing.
  cases.push(['CL and TE together', req('/releases/1.0/big.iso', ['Host: x', 'Content-Length: 4', 'Transfer-Encoding: chunked'], 'POST') + '0\r\n\r\n']);
  cases.push(['two Content-Lengths', req('/releases/1.0/big.iso', ['Host: x', 'Content-Length: 4', 'Content-Length: 5'], 'POST') + 'abcde']);
  cases.push(['TE chunked, identity', req('/releases/1.0/big.iso', ['Host: x', 'Transfer-Encoding: chunked, identity'], 'POST') + '0\r\n\r\n']);
  cases.push(['TE with a bad chunk size', req('/releases/1.0/big.iso', ['Host: x', 'Transfer-Encoding: chunked'], 'POST') + 'zz\r\nabc\r\n0\r\n\r\n']);
  cases.push(['TE obfuscated', req('/releases/1.0/big.iso', ['Host: x', 'Transfer-Encoding : chunked'], 'POST') + '0\r\n\r\n']);
  cases.push(['GET with a body', req('/releases/1.0/big.iso', ['Host: x', 'Content-Length: 10']) + '0123456789']);
  cases.push(['GET with a smuggled request in its body', req('/releases/1.0/big.iso', ['Host: x', 'Content-Length: 44']) + req('/../../etc/passwd').slice(0, 44)]);
  cases.push(['negative Content-Length', req('/releases/1.0/big.iso', ['Host: x', 'Content-Length: -1'], 'POST')]);
  cases.push(['huge Content-Length', req('/releases/1.0/big.iso', ['Host: x', 'Content-Length: 99999999999999999999'], 'POST')]);
  cases.push(['obs-fold header', 'GET /releases/1.0/big.iso HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\nConnection: close\r\n\r\n']);
  cases.push(['LF line endings', 'GET /releases/1.0/big.iso HTTP/1.1\nHost: x\nConnection: close\n\n']);
  cases.push(['bare CR', 'GET /releases/1.0/big.iso HTTP/1.1\rHost: x\r\n\r\n']);
  cases.push(['NUL in a header', 'GET /releases/1.0/big.iso HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\nConnection: close\r\n\r\n']);
  cases.push(['CRLF injection in the target', 'GET /releases/1.0/big.iso%0d%0aLocation:%20http://evil HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
  cases.push(['raw CRLF in the target', 'GET /a\r\nLocation: http://evil/ HTTP/1.1\r\nHost: x\r\n\r\n']);
  // Versions and preambles.
  cases.push(['HTTP/0.9', 'GET /releases/1.0/big.iso\r\n\r\n']);
  cases.push(['HTTP/1.0 without Host', 'GET /releases/1.0/big.iso HTTP/1.0\r\n\r\n']);
  cases.push(['HTTP/1.1 without Host', 'GET /releases/1.0/big.iso HTTP/1.1\r\nConnection: close\r\n\r\n']);
  cases.push(['two Host headers', req('/releases/1.0/big.iso', ['Host: a', 'Host: b'])]);
  cases.push(['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n']);
  cases.push(['HTTP/3.0', 'GET /releases/1.0/big.iso HTTP/3.0\r\nHost: x\r\n\r\n']);
  cases.push(['HTTP/1.1 upgrade to h2c', req('/releases/1.0/big.iso', ['Host: x', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAAQAAP__'])]);
  cases.push(['websocket upgrade', req('/releases/1.0/big.iso', ['Host: x', 'Upgrade: websocket', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13'])]);
  cases.push(['TLS ClientHello on the plain port', Buffer.from('16030100a5010000a10303', 'hex')]);
  cases.push(['binary garbage', Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37) % 256))]);
  cases.push(['nothing but CRLFs', '\r\n'.repeat(1000)]);
  // Oversized.
  cases.push(['100 KB target', req(`/${'a'.repeat(100_000)}`)]);
  cases.push(['100 KB header', req('/releases/1.0/big.iso', ['Host: x', `X-Big: ${'b'.repeat(100_000)}`])]);
  cases.push(['2,000 headers', req('/releases/1.0/big.iso', ['Host: x', ...Array.from({ length: 2000 }, (_, i) => `X-H${i}: v`)])]);
  cases.push(['long avoid list', req(`/releases/1.0/big.iso?avoid=${'eu,us,'.repeat(5000)}`)]);
  cases.push(['avoid as array and object', req('/releases/1.0/big.iso?avoid[]=eu&avoid[x]=us&avoid=&avoid=%00')]);
  // Pipelining: many in one write, a bad one in the middle.
  const pipe = (n: number, middle?: string) => Array.from({ length: n }, (_, i) => (middle !== undefined && i === Math.floor(n / 2)
    ? `GET ${middle} HTTP/1.1\r\nHost: x\r\n\r\n` : 'GET /releases/1.0/big.iso HTTP/1.1\r\nHost: x\r\n\r\n')).join('') + req('/README.txt');
  cases.push(['20 pipelined requests', pipe(20)]);
  cases.push(['pipelined with traversal in the middle', pipe(9, '/../../etc/passwd')]);
  cases.push(['pipelined with a POST in the middle', pipe(5).replace('GET /releases/1.0/big.iso HTTP/1.1\r\nHost: x\r\n\r\n', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc')]);
  // Spoofed client addresses and protocols (the peer, 127.0.0.1, is a trusted proxy by default).
  for (const [name, value] of [['X-Forwarded-For', '1.2.3.4'], ['X-Forwarded-For', 'not-an-ip'], ['X-Forwarded-For', `${'1.1.1.1, '.repeat(1000)}2.2.2.2`],
    ['X-Forwarded-For', '::ffff:999.1.1.1'], ['X-Forwarded-For', '[::1]:80, [2001:db8::1]:99999'], ['X-Forwarded-For', '127.0.0.1'],
    ['Forwarded', 'for=unknown;proto=https'], ['Forwarded', 'for="_hidden", for="[2001:db8::1]";proto=gopher'], ['Forwarded', ';;;,,,=='],
    ['Forwarded', `for=1.2.3.4;${'x=y;'.repeat(2000)}`], ['X-Forwarded-Proto', 'https, javascript'], ['X-Forwarded-Proto', 'HTTPS'],
    ['X-Forwarded-Host', 'evil.example'], ['X-Original-URL', '/../../etc/passwd'], ['X-Rewrite-URL', '/mirrors.json'],
    ['Range', 'bytes=0-0,-1,0-999999999999999999'], ['Range', 'bytes=999999999999999999999-'], ['Range', 'lines=1-2'],
    ['If-None-Match', '*'], ['If-Modified-Since', 'yesterday'], ['Authorization', 'Bearer x'], ['Cookie', 'a'.repeat(8000)]]) {
    cases.push([`header ${name}: ${String(value).slice(0, 30)}`, req('/releases/1.0/big.iso', ['Host: x', `${name}: ${value}`])]);
    cases.push([`header ${name} on a small file`, req('/README.txt', ['Host: x', `${name}: ${value}`])]);
  }
  // What clients see besides the file: checksums, Metalink, mirror lists, directories, with odd input.
  for (const target of ['/releases/1.0/big.iso?mirrorlist=%3Cscript%3E', '/releases/1.0/big.iso?mirrorlist&mirrorlist=json', '/releases/1.0/big.iso?sha256[]=1',
    '/releases/1.0/big.iso?meta4=../../etc/passwd', '/releases/1.0/big.iso.meta4/../../etc/passwd', '/nope.iso.meta4', '/nope.iso?mirrorlist', '/releases?sort=../../&order=%00',
    '/releases/?sort[]=size&json[x]=1', '/?json', '//evil.example/', '/%5cevil.example', '/releases%2f1.0', '/.git/', '/releases/1.0/big.iso.sha256?sha256']) {
    cases.push([`view ${target}`, req(target)]);
  }
  for (const host of ['evil"><script>x</script>', 'a b', '', 'x'.repeat(300), '[::1', '127.0.0.1:99999999']) {
    cases.push([`Metalink with Host ${host.slice(0, 20)}`, req('/README.txt.meta4', [`Host: ${host}`])]);
  }
  for (const accept of ['application/metalink4+xml', 'application/metalink4+xml;q=abc, */*;q=-1', 'application/json', `${'a/b, '.repeat(2000)}application/metalink4+xml`]) {
    cases.push([`Accept ${accept.slice(0, 30)}`, req('/releases/1.0/big.iso', ['Host: x', `Accept: ${accept}`])]);
    cases.push([`Accept ${accept.slice(0, 30)} on a directory`, req('/releases/', ['Host: x', `Accept: ${accept}`])]);
  }
  // The operator endpoints, probed from a spoofed public address.
  for (const path of ['/_mirrorgate/mirrors', '/_mirrorgate/metrics', '/_mirrorgate/explain?path=../../etc/passwd', '/_mirrorgate/health', '/_mirrorgate/../mirrors.json', '/_mirrorgate/']) {
    cases.push([`operator ${path} from outside`, req(path, ['Host: x', 'X-Forwarded-For: 203.0.113.9'])]);
  }
  return cases;
}

/** Every Location in everything the server sent (pipelined answers included). */
function locations(answer: RawAnswer): string[] {
  return [...answer.raw.matchAll(/\r\nlocation: ([^\r\n]*)/gi)].map((m) => m[1] as string);
}

t.test('the hostile corpus against the real server process', async (t) => {
  const fixture = makeFixture(t);
  writeConfig(fixture.configPath, {
    mirrors: [{ name: 'eu', url: MIRRORS[0] }, { name: 'us', url: MIRRORS[1] }],
    fallbackUrl: FALLBACK, rateLimit: { enabled: false }, http: { headersTimeoutMs: 2000, requestTimeoutMs: 3000 },
  });
  const { child, port, output } = await serveProcess(t, fixture);

  const cases = corpus();
  t.ok(cases.length >= 150, `${cases.length} cases`);
  const statuses = new Map<number, number>();
  const failures: string[] = [];
  for (let i = 0; i < cases.length; i += 8) {
    await Promise.all(cases.slice(i, i + 8).map(async ([name, bytes]) => {
      const answer = await rawRequest(port, bytes, 1500);
      const codes = [...answer.raw.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
      for (const code of codes) statuses.set(code, (statuses.get(code) ?? 0) + 1);
      if (codes.some((c) => c >= 500)) failures.push(`${name}: ${codes.join(',')}`);
      for (const location of locations(answer)) {
        // A directory's slash form is the one Location on this server: an absolute path, never `//host`.
        const here = /^\/(?!\/)[^\\]*\/(\?.*)?$/.test(location);
        if (!here && ![...MIRRORS, FALLBACK].some((base) => location.startsWith(base))) failures.push(`${name}: Location ${location}`);
        // The path part: a directory's slash form keeps the request's query as it came, as web servers do.
        if (/\.\.|%2e%2e|etc\/passwd|mirrors\.json/i.test(here ? (location.split('?')[0] as string) : location)) failures.push(`${name}: Location ${location}`);
      }
      if (/root:x:0:0|"mirrors"\s*:/.test(answer.body)) failures.push(`${name}: leaked a file`);
    }));
    t.equal(child.exitCode, null, `still running after case ${Math.min(i + 8, cases.length)}`);
  }
  t.same(failures, [], 'no 5xx, no Location outside the mirrors and the fallback, nothing leaked');
  t.comment(`answers by status: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ')}`);
  const after = await rawRequest(port, req('/releases/1.0/big.iso'));
  t.equal(after.status, 302, 'and it still redirects');
  t.notMatch(output(), /"level":(50|60)/, 'no error was logged');
});
