import t from 'tap';
import { normalizeRequestPath, encodePath } from '../../src/catalog/request-path.js';

const ok: [string, string][] = [
  ['/releases/1.0/a.iso', 'releases/1.0/a.iso'],
  ['/releases/1.0/a.iso?x=1', 'releases/1.0/a.iso'],
  ['/a//b', 'a/b'],
  ['/a/./b', 'a/b'],
  ['/with%20space%2Bplus.iso', 'with space+plus.iso'],
  ['/pool/%C3%BC/x.deb', 'pool/ü/x.deb'],
  ['/g++_1.0.deb', 'g++_1.0.deb'],
  ['/.hidden', '.hidden'],
  ['/', ''],
];
for (const [url, path] of ok) {
  t.test(`${url} → ${path}`, async (t) => t.same(normalizeRequestPath(url), { ok: true, path }));
}

const refused: [string, string][] = [
  ['/../etc/passwd', 'dot-dot'],
  ['/a/../../etc/passwd', 'dot-dot'],
  ['/%2e%2e/etc/passwd', 'dot-dot'],
  ['/%2E%2E%2Fetc%2Fpasswd', 'dot-dot'],
  ['/a/..%2f..%2fetc', 'dot-dot'],
  ['/a%00.iso', 'nul-byte'],
  ['/%zz', 'bad-encoding'],
  ['/%C3', 'bad-encoding'],
  ['relative', 'not-absolute'],
];
for (const [url, reason] of refused) {
  t.test(`${url} refused: ${reason}`, async (t) => t.match(normalizeRequestPath(url), { ok: false, status: 400, reason }));
}

t.test('encodePath keeps safe paths and encodes the rest per segment', async (t) => {
  t.equal(encodePath('releases/1.0/a-b_c~d.iso'), 'releases/1.0/a-b_c~d.iso');
  t.equal(encodePath('with space+plus.iso'), 'with%20space%2Bplus.iso');
  t.equal(encodePath('pool/ü/x#1?.deb'), 'pool/%C3%BC/x%231%3F.deb');
  t.equal(encodePath('100%.iso'), '100%25.iso');
});
