// npm run demo [-- --port N]: see demo.ts.
import { parseArgs } from 'node:util';
import { runDemo } from './demo.js';

const usage = 'Usage: npm run demo -- [--port N]   (default 8080, or MIRRORGATE_PORT)\n';
let port: string | undefined;
try {
  const { values } = parseArgs({ options: { port: { type: 'string', short: 'p' }, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help === true) {
    process.stdout.write(usage);
    process.exit(0);
  }
  port = values.port;
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${usage}`);
  process.exit(2);
}
try {
  await runDemo(port);
} catch (err) {
  const { code, message } = err as { code?: string; message: string };
  process.stderr.write(code === 'EADDRINUSE' ? `demo: port in use; choose another with --port N\n` : `demo: ${message}\n`);
  process.exit(1);
}
