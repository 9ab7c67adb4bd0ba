// Mirror stubs in a process of their own, as real mirrors are: `node dist/bench/mirror-stubs.js ROOT N`
// starts N static mirrors of ROOT on 127.0.0.1 and prints their URLs as one JSON line. The bench's load
// generator then does not starve the mirrors that content checks ask.
import { startMirrorServer, type MirrorServer } from '../src/demo/mirror-server.js';

const [root, count] = process.argv.slice(2);
if (root === undefined) throw new Error('usage: mirror-stubs ROOT [N]');
const servers: MirrorServer[] = [];
for (let i = 0; i < Number(count ?? 10); i++) servers.push(await startMirrorServer(root));
console.log(`stubs ${JSON.stringify(servers.map((s) => s.url))}`);
process.on('SIGTERM', () => void Promise.all(servers.map((s) => s.close())).then(() => process.exit(0)));
