// npm run demo: a self-contained, offline mirrorgate. Builds a small repository, starts three mirrors on
// loopback (labelled Europe, North America and Asia), writes a config for them and serves it with the
// real server. Ctrl-C stops everything. `--port N` (or MIRRORGATE_PORT) picks mirrorgate's port (default 8080).
import { mkdirSync, writeFileSync, truncateSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../paths.js';
import { startMirrorServer, type MirrorServer } from './mirror-server.js';
import { startServer } from '../server.js';
import { resolveSettings } from '../settings.js';

const DEMO_DIR = join(PACKAGE_ROOT, '.demo');

/** Files of several sizes: the small ones are served directly, the rest redirected. */
export const DEMO_FILES: readonly { path: string; size: number }[] = [
  { path: 'README.txt', size: 0 },
  { path: 'releases/1.0/SHA256SUMS', size: 0 },
  { path: 'releases/1.0/demo-1.0-amd64.iso', size: 64 * 1024 * 1024 },
  { path: 'releases/1.0/demo-1.0.tar.gz', size: 300 * 1024 },
  { path: 'pool/main/d/demo/demo_1.0_amd64.deb', size: 48 * 1024 },
  { path: 'pool/main/d/demo/demo-doc_1.0_all.deb', size: 12 * 1024 },
];

const DEMO_MIRRORS = [
  { name: 'eu-frankfurt', country: 'DE', latitude: 50.11, longitude: 8.68, weight: 100, bandwidthMbps: 10000 },
  { name: 'na-sanfrancisco', country: 'US', latitude: 37.77, longitude: -122.42, weight: 100, bandwidthMbps: 10000 },
  { name: 'as-tokyo', country: 'JP', latitude: 35.68, longitude: 139.69, weight: 50, bandwidthMbps: 1000 },
];

export function writeDemoRepository(root: string): void {
  for (const f of DEMO_FILES) {
    const file = join(root, f.path);
    mkdirSync(join(file, '..'), { recursive: true });
    if (existsSync(file)) continue;
    if (f.path.endsWith('README.txt')) writeFileSync(file, 'mirrorgate demo repository.\nLarge files are redirected to a mirror; small ones are served directly.\n');
    else if (f.path.endsWith('SHA256SUMS')) writeFileSync(file, 'see the catalog: mirrorgate hashes every file in the background\n');
    else if (f.size >= 1024 * 1024) {
      writeFileSync(file, '');
      truncateSync(file, f.size); // sparse: big on paper, nothing on disk
    } else writeFileSync(file, randomBytes(f.size));
  }
}

export function writeDemoConfig(file: string, repository: string, mirrors: readonly MirrorServer[]): void {
  // The demo mirrors publish a sync timestamp, so every demo file counts as present on them at once;
  // a file added to .demo/repository later is verified per file before anyone is sent there.
  writeFileSync(join(repository, 'TIMESTAMP'), `${Math.floor(Date.now() / 1000) + 1}\n`);
  const config = {
    $schema: join(PACKAGE_ROOT, 'mirrors.schema.json'),
    repository,
    probe: { intervalSeconds: 10 },
    mirrors: DEMO_MIRRORS.map((m, i) => ({ ...m, url: mirrors[i]?.url, timestampFile: 'TIMESTAMP' })),
  };
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
}

export async function runDemo(port?: string): Promise<void> {
  const repository = join(DEMO_DIR, 'repository');
  writeDemoRepository(repository);
  const mirrors = await Promise.all(DEMO_MIRRORS.map(() => startMirrorServer(repository)));
  const configFile = join(DEMO_DIR, 'mirrors.json');
  writeDemoConfig(configFile, repository, mirrors);
  const settings = resolveSettings({ config: configFile, db: join(DEMO_DIR, 'mirrorgate.db'), host: '127.0.0.1', port }, process.env);
  const server = await startServer({ ...settings, logLevel: process.env.MIRRORGATE_LOG_LEVEL === undefined ? 'warn' : settings.logLevel });
  const base = server.url.replace('127.0.0.1', 'localhost');
  console.log(`
mirrorgate demo is running at ${base}
  demo mirrors: ${mirrors.map((m, i) => `${DEMO_MIRRORS[i]?.name} ${m.url}`).join(', ')}
  config:       ${configFile} (edit it: a valid edit applies within about 150 ms)

Try:
  curl -I ${base}/releases/1.0/demo-1.0-amd64.iso        # 302 to a mirror
  curl -I '${base}/releases/1.0/demo-1.0.tar.gz?avoid=eu-frankfurt'
  curl -I ${base}/README.txt                            # small: served directly, 200
  curl -sL ${base}/pool/main/d/demo/demo_1.0_amd64.deb | wc -c
  curl -I ${base}/no/such/file                          # 404
  curl -s ${base}/releases/1.0/demo-1.0-amd64.iso.sha256   # sha256sum format
  curl -s ${base}/releases/1.0/demo-1.0-amd64.iso.meta4    # Metalink 4, for aria2c
  curl -s '${base}/releases/1.0/demo-1.0-amd64.iso?mirrorlist=json'
  in a browser: ${base}/releases/1.0/demo-1.0-amd64.iso?mirrorlist and ${base}/releases/
  in a browser: ${base}/_mirrorgate/ (the operator's dashboard)
  curl -s ${base}/_mirrorgate/mirrors                    # health, capacity, load
  curl -s '${base}/_mirrorgate/explain?path=releases/1.0/demo-1.0.tar.gz&ip=81.2.69.142'
  curl -s ${base}/_mirrorgate/metrics
  npx mirrorgate stats --db ${join(DEMO_DIR, 'mirrorgate.db')} --config ${configFile}
  npx mirrorgate stats --files --db ${join(DEMO_DIR, 'mirrorgate.db')}      # downloads per file

Ctrl-C stops the demo.
`);
  await server.closed;
  await Promise.all(mirrors.map((m) => m.close()));
}
