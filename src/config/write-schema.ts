// Writes mirrors.schema.json from the TypeBox source (npm run gen-schema). A test checks the file is current.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigSchema } from './schema.js';
import { PACKAGE_ROOT } from '../paths.js';

export function renderSchema(): string {
  const schema = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://mirrorgate.invalid/mirrors.schema.json',
    title: 'mirrorgate mirrors.json',
    ...JSON.parse(JSON.stringify(ConfigSchema)),
  };
  return `${JSON.stringify(schema, null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const target = join(PACKAGE_ROOT, 'mirrors.schema.json');
  writeFileSync(target, renderSchema());
  console.log(`wrote ${target}`);
}
