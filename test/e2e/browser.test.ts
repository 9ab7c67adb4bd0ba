// Headless Chromium (Debian's, driven by playwright-core) with JavaScript off, on a phone-sized screen:
// a mirror list page and a directory page render, read right, sort by a click and leave screenshots in
// .tap/screenshots/ for a person to look at.
import t from 'tap';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { build, DEFAULT_MIRRORS } from '../helper.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = join(process.cwd(), '.tap', 'screenshots');
// The flags a sandboxed, offline machine needs (no first-run, no background traffic, no GPU).
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

t.test('a mirror list and a directory page in headless Chromium, without JavaScript, on a phone screen', async (t) => {
  t.ok(existsSync(CHROMIUM), `${CHROMIUM} is installed (.ci/run installs Debian's chromium)`);
  const files = { 'pub/big.iso': 50 * 1024 * 1024, 'pub/small.txt': 300, 'pub/odd name <b>.iso': 9000, 'pub/sub/x.iso': 9000 };
  const mirrors = [
    ...DEFAULT_MIRRORS,
    { name: 'fr', url: 'https://fr.example.org/', country: 'FR' },
    { name: 'hidden', url: 'https://hidden.example.org/', enabled: false },
  ];
  const { app } = await build(t, { files, config: { mirrors } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const expected = (await app.inject({ url: '/pub/big.iso', remoteAddress: '127.0.0.1' })).headers['x-mirrorgate-mirror'];

  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  t.teardown(() => browser.close());
  const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 375, height: 740 }, deviceScaleFactor: 2 });
  const page = await context.newPage();
  mkdirSync(SHOTS, { recursive: true });

  await page.goto(`${base}/pub/big.iso?mirrorlist`);
  t.equal(await page.textContent('h1'), 'big.iso');
  t.match(await page.textContent('dl') ?? '', /50 MiB \(52428800 bytes\)/);
  const rows = page.locator('tbody tr');
  t.equal(await rows.count(), 3, 'three mirrors; the disabled one is not shown');
  t.equal((await rows.nth(0).locator('td').nth(1).textContent())?.trim(), expected, 'the first row is the mirror this client gets');
  t.equal(await rows.nth(0).getAttribute('class'), 'chosen');
  t.notMatch(await page.content(), 'hidden.example.org');
  const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  t.ok(fits, 'no sideways scrolling on a 375 px screen');
  const listShot = join(SHOTS, 'mirrorlist.png');
  await page.screenshot({ path: listShot, fullPage: true });
  t.ok(statSync(listShot).size > 1000, `screenshot at ${listShot}`);

  await page.goto(`${base}/pub/`);
  t.equal(await page.textContent('h1'), 'Index of /pub/');
  const names = async () => page.locator('tbody tr td:first-child a').allTextContents();
  t.same(await names(), ['../', 'sub/', 'big.iso', 'odd name <b>.iso', 'small.txt']);
  await page.click('th >> text=Size');
  await page.waitForURL(/sort=size&order=asc/);
  t.same(await names(), ['../', 'sub/', 'small.txt', 'odd name <b>.iso', 'big.iso'], 'sorted by size, by a plain link');
  await page.click('th >> text=Size');
  await page.waitForURL(/sort=size&order=desc/);
  t.same(await names(), ['../', 'sub/', 'big.iso', 'odd name <b>.iso', 'small.txt']);
  const dirShot = join(SHOTS, 'directory.png');
  await page.screenshot({ path: dirShot, fullPage: true });
  t.ok(statSync(dirShot).size > 1000, `screenshot at ${dirShot}`);
  await page.click('text=sub/');
  await page.waitForURL(`${base}/pub/sub/`);
  t.same(await names(), ['../', 'x.iso']);
});
