// Bench fixtures: a generated repository (sparse files), client addresses across countries, and
// mirrors spread over five continents.
import { closeSync, ftruncateSync, mkdirSync, openSync, writeFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * Creates `count` sparse files under root (skipped when a marker says it is already there), laid out like
 * a Debian pool: ten files a package directory (its versions and architectures), so a million files sit
 * in about 100,000 directories (the watcher needs one inotify watch per directory).
 */
export function generateRepository(root: string, count: number): string[] {
  const marker = join(root, '.generated');
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const pkg = Math.floor(i / 10);
    const dir = `pool/main/${(pkg % 997).toString(36)}/pkg${Math.floor(pkg / 997)}`;
    paths.push(`${dir}/pkg${pkg}_1.${i % 10}-1_amd64.deb`);
  }
  const stamp = `${count} files, 10 a directory`;
  if (existsSync(marker) && readFileSync(marker, 'utf8') === stamp) return paths;
  rmSync(root, { recursive: true, force: true }); // another layout or count: start over
  const made = new Set<string>();
  for (let i = 0; i < count; i++) {
    const path = paths[i] as string;
    const dir = join(root, path.slice(0, path.lastIndexOf('/')));
    if (!made.has(dir)) {
      mkdirSync(dir, { recursive: true });
      made.add(dir);
    }
    const fd = openSync(join(root, path), 'w');
    ftruncateSync(fd, 65536 + (i % 4096) * 4096); // 64 KiB .. 16 MiB, nothing on disk
    closeSync(fd);
  }
  writeFileSync(join(root, 'README.txt'), 'bench repository\n');
  writeFileSync(marker, stamp);
  return paths;
}

/** Prefixes located in the shipped DB-IP database, by country, plus private space (no location). */
const PREFIXES = [
  '81.2.69', '212.58.244', '8.8.8', '23.20.0', '1.1.1', '139.130.4', '202.12.27', '133.11.0', '200.160.2', '177.67.80',
  '85.214.132', '193.99.144', '91.198.174', '103.21.244', '196.25.1', '41.0.0', '24.48.0', '101.0.0', '10.1.2', '192.168.7',
];

export function clientAddresses(count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(`${PREFIXES[i % PREFIXES.length]}.${1 + (Math.floor(i / PREFIXES.length) % 254)}`);
  return out;
}

const SITES: [string, number, number][] = [
  ['DE', 50.1, 8.7], ['GB', 51.5, -0.1], ['FR', 48.9, 2.35], ['NL', 52.4, 4.9], ['SE', 59.3, 18.1], ['PL', 52.2, 21.0],
  ['US', 38.9, -77.0], ['US', 45.6, -122.7], ['CA', 43.7, -79.4], ['MX', 19.4, -99.1],
  ['BR', -23.5, -46.6], ['AR', -34.6, -58.4], ['CL', -33.4, -70.6],
  ['JP', 35.7, 139.7], ['KR', 37.6, 127.0], ['SG', 1.35, 103.8], ['IN', 19.0, 72.8], ['CN', 31.2, 121.5],
  ['AU', -33.9, 151.2], ['NZ', -36.8, 174.8], ['ZA', -26.2, 28.0],
];

export function mirrorsFor(urls: readonly string[], extra: Record<string, unknown> = {}): object[] {
  return urls.map((url, i) => {
    const [country, latitude, longitude] = SITES[i % SITES.length] as [string, number, number];
    // Declared far above what a loopback bench sends: the measurement is of the redirect path with every
    // rule active, not of a mirror set driven into saturation (the selection tests cover that).
    return { name: `m${i}-${country.toLowerCase()}`, url, country, latitude, longitude, weight: 50 + (i % 4) * 50, bandwidthMbps: 100_000_000, ...extra };
  });
}

/**
 * What the load generator reads: up to 10,000 request paths spread over the catalog and 2,000 client
 * addresses, one per line. Also stamps the repository's TIMESTAMP, so mirrors' sync stamps vouch for it.
 */
export function writeLoadInputs(work: string, repository: string, paths: readonly string[]): { pathsFile: string; ipsFile: string } {
  writeFileSync(join(repository, 'TIMESTAMP'), `${Math.floor(Date.now() / 1000) + 1}\n`);
  const step = Math.max(1, Math.floor(paths.length / 10_000));
  const pathsFile = join(work, 'paths.txt');
  writeFileSync(pathsFile, `${paths.filter((_, i) => i % step === 0).slice(0, 10_000).map((p) => `/${p}`).join('\n')}\n`);
  const ipsFile = join(work, 'ips.txt');
  writeFileSync(ipsFile, `${clientAddresses(2000).join('\n')}\n`);
  return { pathsFile, ipsFile };
}

/** The full pipeline's config: rate limiting with a high limit, probing every 30 s, no periodic rescan. */
export function pipelineConfig(repository: string, mirrorUrls: readonly string[], extra: Record<string, unknown> = {}): object {
  return {
    repository,
    rateLimit: { enabled: true, max: 1_000_000_000, windowSeconds: 60 },
    catalog: { rescanSeconds: 0, hashConcurrency: 0 },
    probe: { enabled: true, intervalSeconds: 30 },
    mirrors: mirrorsFor(mirrorUrls, { timestampFile: 'TIMESTAMP' }),
    ...extra,
  };
}

/**
 * Gives every catalog row of a scanned database a sha256 (random; the bench's sparse files are not worth
 * reading): each redirect then carries Repr-Digest and Digest, as in production once the hasher has run.
 */
export function fakeHashes(file: string): void {
  const db = new Database(file);
  try {
    db.prepare('UPDATE files SET sha256 = lower(hex(randomblob(32))) WHERE sha256 IS NULL').run();
  } finally {
    db.close();
  }
}
