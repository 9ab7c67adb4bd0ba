// A scan whose server died stops: it must not walk and write on for minutes next to the restarted
// server's own scan. The scan process knows its server by the pid it was given (MIRRORGATE_SCAN_PARENT);
// a parent that is not that server is what an orphan sees (it was adopted by init or a subreaper).
import t from 'tap';
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { openDb, statement } from '../../src/db/open.js';
import { tempDir, writeFiles } from '../helper.js';

const WORKER = join(PACKAGE_ROOT, 'dist/src/catalog/scan-worker.js');

async function scanAs(parent: number, root: string, db: string): Promise<number | null> {
  const child = fork(WORKER, [], {
    env: { ...process.env, MIRRORGATE_SCAN_CHILD: '1', MIRRORGATE_SCAN_PARENT: String(parent) },
    serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.send({ root, filesToo: true, db });
  return exited;
}

t.test('a scan process whose server is gone ends without writing the catalog; its server\'s own scan writes it', async (t) => {
  const dir = tempDir(t, 'orphan');
  const repository = join(dir, 'repository');
  writeFiles(repository, Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`pool/d${i % 40}/f${i}.deb`, 100])));
  const dbPath = join(dir, 'catalog.db');
  const { db } = openDb(dbPath);
  t.teardown(() => db.close());
  const files = () => (statement(db, 'SELECT count(*) AS n FROM files').get() as { n: number }).n;
  // Forked by this process but told its server was another: as if that server had died and this process
  // had been adopted. A pid that cannot be a live parent of it.
  t.equal(await scanAs(2 ** 22 + 1, repository, dbPath), 3, 'the orphan exits with status 3');
  t.equal(files(), 0, 'none of the 2,000 files written');
  t.equal(await scanAs(process.pid, repository, dbPath), 0, 'a scan for its own server runs to the end');
  t.equal(files(), 2000, 'and writes every file');
});
