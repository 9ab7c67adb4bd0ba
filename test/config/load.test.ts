import t from 'tap';
import { readFileSync, writeFileSync, mkdirSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { validateConfig, loadConfigFile, formatProblems, MAX_CONFIG_BYTES } from '../../src/config/load.js';
import { renderSchema } from '../../src/config/write-schema.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { tempDir } from '../helper.js';

const dir = tempDir(t, 'config');
mkdirSync(join(dir, 'repository'));
const source = join(dir, 'mirrors.json');
const good = { url: 'https://m.example.org/pub/', name: 'm1', country: 'DE', latitude: 50, longitude: 8 };

function problems(doc: unknown) {
  const result = validateConfig(doc, source);
  return result.ok ? [] : result.problems;
}

t.test('a minimal config gets every default', async (t) => {
  const result = validateConfig({ mirrors: [{ name: 'm1', url: 'https://m.example.org/pub' }] }, source);
  t.ok(result.ok);
  if (!result.ok) return;
  t.match(result.config, {
    repository: join(dir, 'repository'),
    smallFileBytes: 4096,
    trustProxy: ['127.0.0.1/32', '::1/128'],
    rateLimit: { enabled: true, max: 1200, windowSeconds: 60 },
    catalog: { rescanSeconds: 300 },
    counters: { flushIntervalMs: 1000, minuteRetentionHours: 48, hourRetentionDays: 400 },
    probe: { intervalSeconds: 30, timeoutMs: 3000 },
  });
  t.match(result.config.mirrors[0], { name: 'm1', url: 'https://m.example.org/pub/', weight: 100, enabled: true });
  t.ok(Object.isFrozen(result.config.mirrors[0]), 'config is frozen');
});

t.test('continent is derived from country when omitted', async (t) => {
  const result = validateConfig({ mirrors: [good] }, source);
  t.ok(result.ok && result.config.mirrors[0]?.continent === 'EU');
});

const mistakes: [string, unknown, string, RegExp][] = [
  ['unknown top-level key', { mirrors: [], colour: 'blue' }, 'colour', /unknown key/],
  ['unknown mirror key', { mirrors: [{ ...good, wieght: 3 }] }, 'mirrors[0].wieght', /unknown key/],
  ['missing url', { mirrors: [{ name: 'x' }] }, 'mirrors[0].url', /required/],
  ['weight zero', { mirrors: [{ ...good, weight: 0 }] }, 'mirrors[0].weight', /> 0/],
  ['weight not a number', { mirrors: [{ ...good, weight: 'heavy' }] }, 'mirrors[0].weight', /must be number/],
  ['bad name', { mirrors: [{ ...good, name: 'a b' }] }, 'mirrors[0].name', /letters, digits/],
  ['duplicate names', { mirrors: [good, { ...good, name: 'M1' }] }, 'mirrors[1].name', /duplicates the name of mirrors\[0\]/],
  ['relative url', { mirrors: [{ ...good, url: 'ftp.example.org/pub' }] }, 'mirrors[0].url', /not an absolute URL/],
  ['ftp url', { mirrors: [{ ...good, url: 'ftp://ftp.example.org/pub' }] }, 'mirrors[0].url', /http or https/],
  ['url with query', { mirrors: [{ ...good, url: 'https://x.org/?a=1' }] }, 'mirrors[0].url', /query/],
  ['lower-case country', { mirrors: [{ ...good, country: 'de' }] }, 'mirrors[0].country', /ISO 3166-1/],
  ['unknown country', { mirrors: [{ ...good, country: 'XX' }] }, 'mirrors[0].country', /ISO 3166-1/],
  ['unknown continent', { mirrors: [{ ...good, continent: 'EA' }] }, 'mirrors[0].continent', /continent code/],
  ['latitude out of range', { mirrors: [{ ...good, latitude: 91 }] }, 'mirrors[0].latitude', /<= 90/],
  ['longitude out of range', { mirrors: [{ ...good, longitude: -181 }] }, 'mirrors[0].longitude', />= -180/],
  ['latitude without longitude', { mirrors: [{ name: 'm', url: 'https://x.org/', latitude: 5 }] }, 'mirrors[0].longitude', /go together/],
  ['bad proxy CIDR', { mirrors: [], trustProxy: ['10.0.0.0/33'] }, 'trustProxy[0]', /not an IP address or CIDR/],
  ['negative smallFileBytes', { mirrors: [], smallFileBytes: -1 }, 'smallFileBytes', />= 0/],
  ['bad fallbackUrl', { mirrors: [], fallbackUrl: 'nope' }, 'fallbackUrl', /absolute URL/],
  ['unknown nested key', { mirrors: [], counters: { flushEvery: 3 } }, 'counters.flushEvery', /unknown key/],
  ['not an object', [1, 2], '(root)', /must be object/],
  ['bad country in countries', { mirrors: [{ ...good, countryOnly: true, countries: ['DE', 'Deutschland'] }] }, 'mirrors[0].countries[1]', /ISO 3166-1/],
  ['countries without countryOnly', { mirrors: [{ ...good, countries: ['DE'] }] }, 'mirrors[0].countries', /without "countryOnly"/],
  ['countryOnly with no country at all', { mirrors: [{ name: 'x', url: 'https://x.org/', countryOnly: true }] }, 'mirrors[0].countries', /needs countries/],
  ['continentOnly with no continent', { mirrors: [{ name: 'x', url: 'https://x.org/', continentOnly: true }] }, 'mirrors[0].continentOnly', /needs the mirror's continent/],
  ['https: false on an https url', { mirrors: [{ ...good, https: false }] }, 'mirrors[0].https', /contradicts/],
  ['bad excludeCountries entry', { mirrors: [{ ...good, excludeCountries: ['uk'] }] }, 'mirrors[0].excludeCountries[0]', /ISO 3166-1/],
  ['unknown geoip key', { mirrors: [], geoip: { file: 'x' } }, 'geoip.file', /unknown key/],
];

for (const [what, doc, path, message] of mistakes) {
  t.test(`${what} → ${path}`, async (t) => {
    const found = problems(doc);
    t.ok(found.some((p) => p.path === path && message.test(p.message)), JSON.stringify(found));
  });
}

t.test('every problem is reported, not just the first', async (t) => {
  const found = problems({ mirrors: [{ ...good, weight: -1, country: 'zz' }, { ...good, url: 'gopher://x' }] });
  t.ok(found.length >= 2, JSON.stringify(found));
});

t.test('restrictions and capabilities are resolved', async (t) => {
  const result = validateConfig({ mirrors: [
    { ...good, countryOnly: true },
    { name: 'h', url: 'http://h.example.org/', https: true, ipv6: false, excludeCountries: ['CN'] },
    { name: 'p', url: 'http://p.example.org/' },
  ] }, source);
  t.ok(result.ok);
  if (!result.ok) return;
  t.match(result.config.mirrors[0], { onlyCountries: ['DE'], httpsUrl: 'https://m.example.org/pub/', ipv6: true });
  t.match(result.config.mirrors[1], { onlyCountries: undefined, httpsUrl: 'https://h.example.org/', ipv6: false, excludeCountries: ['CN'] });
  t.equal(result.config.mirrors[2]?.httpsUrl, undefined, 'an http url without https: true is http-only');
  t.equal(result.config.geoip.city, 'shipped');
});

t.test('a missing repository is a warning, not an error', async (t) => {
  const result = validateConfig({ repository: './nowhere', mirrors: [good] }, source);
  t.ok(result.ok);
  t.match(result.ok ? result.warnings : [], [{ path: 'repository', message: /not a directory/ }]);
});

t.test('unreadable and non-JSON files throw coded errors', async (t) => {
  await t.rejects(loadConfigFile(join(dir, 'absent.json')), { code: 'MG_ERR_CONFIG_READ' });
  writeFileSync(join(dir, 'broken.json'), '{ "mirrors": [ }');
  await t.rejects(loadConfigFile(join(dir, 'broken.json')), { code: 'MG_ERR_CONFIG_JSON' });
});

t.test('the shipped mirrors.json is valid and mirrors.schema.json is current', async (t) => {
  const shipped = await loadConfigFile(join(PACKAGE_ROOT, 'mirrors.json'));
  t.ok(shipped.ok, 'shipped mirrors.json validates');
  t.equal(readFileSync(join(PACKAGE_ROOT, 'mirrors.schema.json'), 'utf8'), renderSchema(), 'run npm run gen-schema');
});

t.test('a FIFO, a directory or an oversized file is refused without blocking, and the error says why', async (t) => {
  const { execFileSync } = await import('node:child_process');
  const fifo = join(dir, 'fifo.json');
  execFileSync('mkfifo', [fifo]);
  // Nothing ever writes into the FIFO: a blocking read would never return and the test would time out.
  await t.rejects(loadConfigFile(fifo), { code: 'MG_ERR_CONFIG_READ', message: /not a regular file/ });
  await t.rejects(loadConfigFile(dir), { code: 'MG_ERR_CONFIG_READ', message: /not a regular file/ });
  const big = join(dir, 'big.json');
  writeFileSync(big, '');
  truncateSync(big, MAX_CONFIG_BYTES + 1);
  await t.rejects(loadConfigFile(big), { code: 'MG_ERR_CONFIG_READ', message: /more than the 8388608/ });
});

t.test('problems name the line they are on, and a JSON syntax error names its line', async (t) => {
  const file = join(dir, 'lines.json');
  writeFileSync(file, [
    '{',
    '  "repository": "./repository",',
    '  "mirrors": [',
    '    { "name": "a", "url": "https://a.example.org/" },',
    '    {',
    '      "name": "b",',
    '      "url": "https://b.example.org/",',
    '      "weight": -3',
    '    }',
    '  ],',
    '  "rateLimit": { "max": 10, "burst": 2 }',
    '}',
  ].join('\n'));
  const result = await loadConfigFile(file);
  t.notOk(result.ok);
  const problems = result.ok ? [] : result.problems;
  t.match(problems.find((p) => p.path === 'mirrors[1].weight'), { line: 8 });
  t.match(problems.find((p) => p.path === 'rateLimit.burst'), { line: 11, message: 'unknown key' });
  t.match(formatProblems(problems), /mirrors\[1\]\.weight \(line 8\): /);
  writeFileSync(file, '{\n  "mirrors": [\n    { "name": "a", }\n  ]\n}\n');
  await t.rejects(loadConfigFile(file), { code: 'MG_ERR_CONFIG_JSON', message: /line 3 column/ });
});
